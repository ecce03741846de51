// A guest broke the ring's rules. Not one request's failure: the device cannot trust the
// queue any more and goes DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2).
export class QueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueError';
  }
}
