// @splitvisor/netstack: Ethernet frames in, Ethernet frames out. The gateway that sits on
// every virtual network as QEMU's user-mode networking does (ARP, ICMP echo, DHCP, TFTP),
// as pure logic: the switch and the transport are the caller's.
export {};
