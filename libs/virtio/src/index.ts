// @splitvisor/virtio: the paravirtual split driver's device half. Virtqueues (split rings)
// read from a guest that may be hostile, the virtio-mmio (version 2) transport, and the
// device models that plug into it. Guest memory is reached only through GuestMemory, so the
// same code runs against mmu DMA in io-backend and against a flat buffer in tests.
export {};
