// A fault request that cannot be: the message names the field and the value, so the one
// who typed it sees what to change.
export class FaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultError';
  }
}
