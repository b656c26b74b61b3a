/**
 * The server's download bandwidth budget (README, "Security and limits"): DOWNLOAD_RATE_MBIT
 * megabits a second shared by every installer download of one server process, as a network card
 * would bound them. Over loopback nothing else does, and the event loop spends its time copying
 * bytes into sockets while every other call waits.
 *
 * One timeline per server: each piece of a download reserves its share of time on it, first come
 * first served (it starts when the timeline is free, and the timeline is then busy for the
 * piece's bytes at the set rate), so concurrent downloads take turns piece by piece. Up to
 * BURST_BYTES may run ahead of the timeline, so an idle server sends a small installer at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Bytes a second in one megabit a second. */
export const MBIT_BYTES_PER_SECOND = 125_000;
/** Sent ahead of the budget by an idle server: a real Seattle installer (under 1 MB) twice over. */
export const BURST_BYTES = 2 * 1024 * 1024;

/** A piece's place on the timeline: when it may be sent, and what it took. */
export interface Reservation {
  /** Milliseconds from the reservation until the piece may be sent; 0: at once. */
  delayMs: number;
  /** The timeline's end just after this reservation, and the time it added there. */
  end: number;
  span: number;
}

export class BandwidthBudget {
  /** When the timeline is next free, on `now`'s clock (ms); in the past when idle. */
  private nextFree = Number.NEGATIVE_INFINITY;
  private readonly msPerByte: number;
  /** How far the timeline may run ahead of now with pieces still sent at once. */
  private readonly burstMs: number;

  constructor(
    readonly bytesPerSecond: number,
    readonly burstBytes = BURST_BYTES,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError('A budget needs a rate above 0.');
    this.msPerByte = 1000 / bytesPerSecond;
    this.burstMs = burstBytes * this.msPerByte;
  }

  /** A budget of `mbit` megabits a second, or undefined for 0 (no budget). */
  static ofMbit(mbit: number): BandwidthBudget | undefined {
    return mbit > 0 ? new BandwidthBudget(mbit * MBIT_BYTES_PER_SECOND) : undefined;
  }

  /** Puts `bytes` at the end of the timeline and says when they may be sent. */
  reserve(bytes: number): Reservation {
    const now = this.now();
    const start = Math.max(this.nextFree, now);
    const span = bytes * this.msPerByte;
    const delayMs = Math.max(0, this.nextFree - this.burstMs - now);
    this.nextFree = start + span;
    return { delayMs, end: this.nextFree, span };
  }

  /**
   * Gives back a reservation whose piece was never sent, when nothing was reserved after it (a
   * later piece keeps its turn, so time in the middle of the timeline stays spent).
   */
  release(reservation: Reservation): void {
    if (this.nextFree === reservation.end) this.nextFree -= reservation.span;
  }

  /**
   * Undefined when `bytes` may be sent at once, else how long their turn is away and a promise
   * that resolves when it comes. That promise rejects (with the signal's reason) when `signal`
   * aborts first: its timer is cleared and its reservation given back as `release` says. An
   * aborted signal reserves nothing.
   */
  turn(bytes: number, signal?: AbortSignal): { delayMs: number; ready: Promise<void> } | undefined {
    signal?.throwIfAborted();
    const reservation = this.reserve(bytes);
    if (reservation.delayMs <= 0) return undefined;
    const ready = sleep(reservation.delayMs, undefined, signal ? { signal } : {}).catch(
      (error: unknown) => {
        this.release(reservation);
        throw error;
      },
    );
    return { delayMs: reservation.delayMs, ready };
  }
}
