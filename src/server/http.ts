/**
 * The HTTP plumbing every route of the server shares: plain-text, JSON and redirect answers, the
 * error a handler throws to answer with a status, and a bounded request-body reader.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Framing of anything we serve is refused: a `<meta>` policy cannot say frame-ancestors. */
export const FRAMING_HEADERS = {
  'Content-Security-Policy': "frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
};
/**
 * A download on which nothing moves for this long (a client that stopped reading) is destroyed.
 * Only downloads: a call may wait longer than this for key generation.
 */
export const STALLED_DOWNLOAD_MS = 60_000;
/** After a 413 we discard at most this much more of the body before closing the connection. */
const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Every plain-text error answer names its problem code in this header (README, "Server and
 * XML-RPC shim"), as the page and the command line name theirs: the sentence may change, the code
 * does not.
 */
export const PROBLEM_CODE_HEADER = 'X-Problem-Code';

/** Thrown by a handler to answer with `status`, a problem code (e.g. `server.path.dot-segment`) and a sentence. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Sent with the answer, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Answers with an error: its status, its sentence as plain text, its code in PROBLEM_CODE_HEADER. */
export function sendProblem(
  res: ServerResponse,
  status: number,
  code: string,
  text: string,
  headers: Record<string, string> = {},
): void {
  sendText(res, status, text, { [PROBLEM_CODE_HEADER]: code, ...headers });
}

/**
 * A file could not be read after the response began or before: 500 with its problem code, or, if
 * the headers are already out, the connection cut so the client sees an incomplete file.
 */
export function answerUnreadable(res: ServerResponse): void {
  if (!res.headersSent)
    sendProblem(
      res,
      500,
      'server.file.unreadable',
      'The file could not be read; please try again.',
    );
  else res.destroy();
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  const body = Buffer.from(text.endsWith('\n') ? text : `${text}\n`, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(body.length),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8');
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, {
    Location: location,
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    Vary: 'Accept',
  });
  res.end(res.req.method === 'HEAD' ? undefined : `See ${location}\n`);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Hashed assets never change; everything else (the page, config.json, the bases) revalidates. */
export function cacheControlFor(path: string): string {
  return /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/**
 * Content types a cross-site HTML form (or a no-cors fetch) can send without a preflight: a page
 * elsewhere could otherwise make a visitor's browser call the shim.
 */
export const FORM_TYPES = new Set([
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * True when the client says it takes HTML (a browser), false for curl's star-slash-star or none.
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (type !== 'text/html' && type !== 'application/xhtml+xml') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** How a request body was read: whole, refused by the reader (with its error), or not at all. */
export type BodyOutcome =
  | { read: true }
  | { read: false; refusal: unknown }
  /** Answered already (413, 408) or the client went away: nothing more to do. */
  | { read: false; refusal?: undefined };

/** Lets every other callback that is ready run first (the next turn of the event loop). */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Reads a request body of at most `limit` bytes, handing it to `take` as it arrives, in pieces of
 * at most `pieceBytes`. After each `pieceBytes` taken the request is paused for a turn of the event
 * loop, so a large body is read between other clients' work, never in one go; a small body is
 * taken at once. When `take` throws, nothing more is taken: the outcome carries the error at once
 * (so the caller can answer before the rest arrives), and the rest is discarded, never held. Over
 * the limit (by Content-Length or while streaming) it answers 413 at once, discards a bounded
 * amount more so the client can read the answer, and closes the connection; a body that does not
 * arrive within `timeoutMs` gets 408.
 */
export function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  timeoutMs: number,
  take: (piece: Uint8Array) => void,
  pieceBytes: number,
): Promise<BodyOutcome> {
  return new Promise((resolve) => {
    const reading = new BodyReading(req, res, { limit, timeoutMs, take, pieceBytes }, resolve);
    reading.start();
  });
}

interface BodyRules {
  limit: number;
  timeoutMs: number;
  take: (piece: Uint8Array) => void;
  pieceBytes: number;
}

/** One body being read (readBody): its phases are the request's events. */
class BodyReading {
  private settled = false;
  private size = 0;
  private sinceTurn = 0;
  private ended = false;
  private feeding = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly rules: BodyRules,
    private readonly resolve: (outcome: BodyOutcome) => void,
  ) {}

  start(): void {
    const { req, rules } = this;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > rules.limit) {
      this.tooLarge(Number(declared) > DRAIN_LIMIT_BYTES);
      return;
    }
    this.timer = setTimeout(() => this.late(), rules.timeoutMs);
    req.on('data', (chunk: Buffer) => this.arrived(chunk));
    req.on('end', () => {
      this.ended = true;
      if (this.settled) clearTimeout(this.timer);
      else if (!this.feeding) this.finish();
    });
    req.on('error', () => {
      clearTimeout(this.timer);
      this.settle({ read: false });
    });
  }

  private settle(outcome: BodyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(outcome);
  }

  private finish(): void {
    clearTimeout(this.timer);
    this.settle({ read: true });
  }

  /** Answers 413 at once, then discards so the client, still sending, can read the answer. */
  private tooLarge(cutOff: boolean): void {
    if (cutOff) this.res.setHeader('Connection', 'close');
    sendProblem(
      this.res,
      413,
      'server.body.too-large',
      `The request body is larger than ${this.rules.limit} bytes.`,
    );
    this.discard();
    this.settle({ read: false });
  }

  /** Discards (never keeps) up to DRAIN_LIMIT_BYTES more, then closes the connection. */
  private discard(): void {
    const req = this.req;
    let drained = 0;
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_LIMIT_BYTES) req.socket.destroy();
    });
    req.resume();
  }

  /** The body (or the rest of a refused one) is late: the connection goes either way. */
  private late(): void {
    if (!this.settled) {
      this.res.setHeader('Connection', 'close');
      sendProblem(
        this.res,
        408,
        'server.body.late',
        `The request body did not arrive within ${this.rules.timeoutMs} ms.`,
      );
    }
    this.req.destroy();
    this.settle({ read: false });
  }

  private arrived(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.rules.limit) {
      this.tooLarge(false);
      return;
    }
    this.req.pause();
    this.feeding = true;
    void this.feed(chunk).then(() => {
      this.feeding = false;
      if (this.settled) return;
      if (this.ended) this.finish();
      else this.req.resume();
    });
  }

  /** Takes `chunk` a piece at a time, a turn of the event loop after every `pieceBytes`. */
  private async feed(chunk: Buffer): Promise<void> {
    const { take, pieceBytes } = this.rules;
    for (let at = 0; at < chunk.length && !this.settled; at += pieceBytes) {
      const piece = chunk.subarray(at, at + pieceBytes);
      try {
        take(piece);
      } catch (refusal) {
        this.discard();
        this.settle({ read: false, refusal });
        return;
      }
      this.sinceTurn += piece.length;
      if (this.sinceTurn >= pieceBytes) {
        this.sinceTurn = 0;
        await nextTurn();
      }
    }
  }
}

/**
 * Closes a connection that has not sent a whole request header within `ms` of connecting or of
 * its previous answer (README, "Security and limits"): `408`, then the socket destroyed. Node's
 * own header timeout starts at the first byte of a header and fires only at its next connection
 * check, so a trickling client measured it at 11 to 14 s for a setting of 9 s; this timer is the
 * connection's own.
 */
export function closeSlowHeaders(server: Server, ms: number): void {
  const deadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const arm = (socket: Socket) => {
    clearTimeout(deadlines.get(socket));
    const timer = setTimeout(() => {
      if (socket.destroyed) return;
      socket.end(
        `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n${PROBLEM_CODE_HEADER}: server.request.late\r\nContent-Length: 0\r\n\r\n`,
        () => socket.destroy(),
      );
      setTimeout(() => socket.destroy(), 1000).unref();
    }, ms);
    timer.unref();
    deadlines.set(socket, timer);
  };
  server.on('connection', (socket: Socket) => {
    arm(socket);
    socket.once('close', () => clearTimeout(deadlines.get(socket)));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    clearTimeout(deadlines.get(socket));
    // The next request on this connection gets `ms` from this answer.
    res.once('finish', () => {
      if (!socket.destroyed) arm(socket);
    });
  });
}
