// Simultan wire protocol client: no DOM. One websocket per tab; hello with the join token,
// resume from the last (epoch, seq) after a reconnect, request/reply by request_id.
// Documented in docs/protocol.md.

/** @typedef {{epoch: string, seq: number}} ResumePoint */

export class LiveConnection {
  /**
   * @param {{url: string, token: string, onWelcome?: Function, onEvent?: Function,
   *          onStatus?: Function, onError?: Function, onTech?: Function, onMedia?: Function,
   *          WebSocketImpl?: any}} opts
   */
  constructor(opts) {
    this.url = opts.url;
    this.token = opts.token;
    this.onWelcome = opts.onWelcome || (() => {});
    this.onEvent = opts.onEvent || (() => {});
    this.onStatus = opts.onStatus || (() => {});
    this.onError = opts.onError || (() => {});
    this.onTech = opts.onTech || (() => {});
    /** Called with each `media` message (media session resumed or not, video paused). */
    this.onMedia = opts.onMedia || (() => {});
    /** This tab's media session id (from rtc_answer): named in hello to keep the media. */
    this.mediaSession = null;
    this.WebSocketImpl = opts.WebSocketImpl || globalThis.WebSocket;
    /** @type {ResumePoint|null} */
    this.resume = null;
    this.pending = new Map();
    this.nextId = 1;
    this.closedByUs = false;
    this.backoff = 500;
    this.ws = null;
  }

  connect() {
    this.closedByUs = false;
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500;
      const hello = { type: "hello", token: this.token, resume: this.resume };
      if (this.mediaSession) hello.media_session = this.mediaSession;
      ws.send(JSON.stringify(hello));
      this.onStatus("open");
    };
    ws.onmessage = (ev) => this.handle(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      this.onStatus("closed", ev.code);
      for (const { reject } of this.pending.values()) reject(new Error("connection closed"));
      this.pending.clear();
      // 4001: bad token, 4003: revoked. Reconnecting cannot help.
      if (this.closedByUs || ev.code === 4001 || ev.code === 4003) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  close() {
    this.closedByUs = true;
    if (this.ws) this.ws.close();
  }

  handle(msg) {
    switch (msg.type) {
      case "welcome":
        this.resume = { epoch: msg.epoch, seq: msg.seq };
        this.onWelcome(msg);
        break;
      case "resumed":
        this.resume = { epoch: msg.epoch, seq: msg.from_seq };
        break;
      case "event":
        this.resume = { epoch: msg.epoch, seq: msg.seq };
        this.onEvent(msg);
        break;
      case "tech":
        this.onTech(msg.view);
        break;
      case "media":
        this.onMedia(msg);
        break;
      case "reply":
      case "rtc_answer":
      case "pong":
      case "error": {
        const waiter = msg.request_id && this.pending.get(msg.request_id);
        if (waiter) {
          this.pending.delete(msg.request_id);
          if (msg.type === "error") waiter.reject(Object.assign(new Error(msg.message), msg));
          else waiter.resolve(msg);
        } else if (msg.type === "error") {
          this.onError(msg);
        }
        break;
      }
      default:
        break;
    }
  }

  /** Send a command and resolve with its reply (or reject with the typed error). */
  request(message) {
    const request_id = `r${this.nextId++}`;
    const open = this.WebSocketImpl.OPEN ?? 1;
    if (!this.ws || this.ws.readyState !== open) {
      return Promise.reject(new Error("not connected to the server (reconnecting)"));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(request_id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, request_id }));
    });
  }
}

/**
 * The join token from the page's fragment (#token=...), kept in this tab's sessionStorage
 * for reloads and taken out of the address bar and the history entry at once, so it is
 * not shown, bookmarked, or shared with the address.
 */
export function tokenFromLocation(
  loc = globalThis.location, store = globalThis.sessionStorage, hist = globalThis.history,
) {
  const params = new URLSearchParams(loc.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token) {
    store.setItem("simultan-token", token);
    if (hist) hist.replaceState(null, "", loc.pathname + loc.search);
    return token;
  }
  return store.getItem("simultan-token");
}

export function wsUrl(loc = globalThis.location) {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws`;
}

/** Format an ISO instant as HH:MM in a time zone. */
export function clock(iso, timeZone) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", timeZone, hourCycle: "h23",
  }).format(new Date(iso));
}

/** Running late/early text from seconds of drift (positive = late). */
export function driftText(seconds) {
  const minutes = Math.round(Math.abs(seconds) / 60);
  if (minutes === 0) return "on time";
  return seconds > 0 ? `running ${minutes} min late` : `running ${minutes} min early`;
}
