// What the two threads of a vCPU say to each other about recalls. mmu's recall reaches
// the host thread (NATS); the worker thread owns the hart's page states, so the host
// posts an order on a MessageChannel and rings the exit channel's recall doorbell
// (ExitChannelHost.ringRecall): the worker takes it at its next safepoint (between batches,
// while parked, or while it waits for an exit's answer) and posts back the bytes of the
// pages it had Modified.

/** Host -> worker. */
export interface RecallOrderMsg {
  id: number;
  /** Page indexes into the VM's RAM. */
  pages: number[];
  /** Drop the pages (someone writes); otherwise downgrade Modified to Shared. */
  invalidate: boolean;
  /** A device reads: send the Modified pages' bytes and keep them Modified. */
  clean?: boolean;
  /** A device wrote these bytes (mmu.proto RECALL_UPDATE): write them into the pages held
   *  and keep them as they are; a page not held is answered as it is. */
  updates?: PageUpdateMsg[];
}

export interface PageUpdateMsg {
  index: number;
  offset: number;
  data: Uint8Array;
}

/** Worker -> host. */
export interface RecallAnswerMsg {
  id: number;
  /** updated: the order's bytes are in the page, which stays as it `was`. */
  pages: { index: number; was: number; data?: Uint8Array; updated?: boolean }[];
}
