// @splitvisor/netstack: Ethernet frames in, Ethernet frames out. The gateway that sits on
// every virtual network as QEMU's user-mode networking does (ARP, ICMP echo, DHCP, TFTP),
// as pure logic: the switch and the transport are the caller's.
export { Gateway, slirpMac, type GatewayClient, type GatewayOptions, type GatewayStats } from './gateway.js';
export { Switch, type SwitchOptions, type SwitchPortStats } from './switch.js';
export type { NetLog, Parsed } from './parse.js';
export {
  BROADCAST_MAC,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETH_HEADER_LEN,
  ETH_MAX_FRAME,
  ETH_MIN_FRAME,
  buildEthernet,
  isBroadcastMac,
  isMulticastMac,
  macEquals,
  macToString,
  parseEthernet,
  parseMac,
  type EthernetFrame,
  type Mac,
} from './ethernet.js';
export { ARP_REPLY, ARP_REQUEST, buildArp, parseArp, type ArpPacket } from './arp.js';
export {
  IP_BROADCAST,
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  buildIpv4,
  ipToString,
  parseCidr,
  parseIp,
  parseIpv4,
  type Ipv4Header,
  type Ipv4Packet,
} from './ipv4.js';
export { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_DEST_UNREACHABLE, buildIcmp, buildEchoReply, buildUnreachable, parseIcmp, type IcmpMessage } from './icmp.js';
export { buildUdp, parseUdp, type UdpDatagram } from './udp.js';
export { internetChecksum, onesSum, pseudoHeaderSum } from './checksum.js';
export {
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DHCPACK,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPREQUEST,
  buildDhcp,
  messageType,
  optionIp,
  parseDhcp,
  type DhcpMessage,
} from './dhcp.js';
export { DhcpServer, type DhcpBoot, type DhcpDecision, type DhcpServerConfig } from './dhcp-server.js';
export {
  OP_ACK,
  OP_DATA,
  OP_ERROR,
  OP_OACK,
  OP_RRQ,
  TFTP_PORT,
  buildAck,
  buildData,
  buildError,
  buildOack,
  buildRequest,
  parseTftp,
  type TftpPacket,
} from './tftp.js';
export { TftpServer, TFTP_MAX_BLOCK_SIZE, type TftpPeer, type TftpServerOptions, type TftpStats } from './tftp-server.js';
