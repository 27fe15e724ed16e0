// The power protocol: "attach, on, off". A relay or PDU behind shell commands and the
// virtual board's QEMU process are interchangeable behind it.
export interface Power {
  /** Gets the board ready to start and says where its console is, before power-on
   * (the virtual board's pty exists only once QEMU runs, paused). */
  attach(): Promise<{ consolePath?: string }>;
  /** Starts (or resets) the board. The console is already listening. */
  on(): Promise<void>;
  /** Switches the board off. Safe to call on every path, more than once. */
  off(): Promise<void>;
}
