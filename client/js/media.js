// Media for one tab: one RTCPeerConnection to the server's embedded SFU.
// No DOM, except hidden <audio>/<video> elements when attachHidden() is asked for.
//
// M-lines, always in this order (the server relies on it, see docs: media plane):
//   0 video  floor video            (sendrecv when this tab publishes the floor's camera)
//   1 audio  program: the floor for a listener, the booth feed for an interpreter
//            (sendrecv when this tab publishes: its mic goes up on this m-line)
//   2 audio  channel: the chosen language for a listener, the booth partner for an interpreter
// Switching language does not renegotiate: selectChannel() asks the server to swap what
// feeds m-line 2. aiortc does not trickle ICE, so the offer is sent once gathering is complete.

/**
 * @typedef {(msg: object) => Promise<any>} Signal  sends a JSON message over the page's
 *   websocket and resolves with the reply (LiveConnection.request does exactly this).
 */

const GATHER_TIMEOUT_MS = 5000;

/** Resolve when ICE gathering is complete (or after a timeout: send what we have). */
export function iceGatheringComplete(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

// Recovery (docs/protocol.md, "Media sessions survive"): the peer connection outlives the
// websocket (the server keeps it for a grace period and the next hello names it). When the
// peer connection itself fails, or stays disconnected, or the server no longer has it, the
// tab builds a new one and offers again by itself: the same MediaStream objects get the new
// tracks, and onRenewed() lets the page re-bind its audio graph.
const DISCONNECTED_MS = 4000; // "disconnected" this long: give up on ICE and offer afresh
const CONNECT_TIMEOUT_MS = 6000; // not connected this long after an offer: tell the person
const RETRY_MS = [1000, 2000, 4000, 8000];

/** What a person can do when media will not connect (shown by the page). */
export const CANNOT_CONNECT =
  "The sound cannot connect from this network. Try another network (a phone hotspot), " +
  "another browser (Chrome, Firefox, Edge, Safari), or ask the organizers to check the " +
  "relay (TURN) server. We keep trying meanwhile.";

/**
 * @typedef {{signal?: Signal, publish?: "floor"|"booth"|"member"|null, channel?: string|null,
 *   localStream?: MediaStream|null, listenToFloorVideo?: boolean,
 *   iceServers?: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy,
 *   fetchConfig?: (() => Promise<any>)|null, PeerConnection?: any,
 *   onState?: (state: string) => void, onSessionId?: (id: string) => void,
 *   onRenewed?: (reason?: string) => void, onProblem?: (text: string|null) => void,
 *   live?: any, onMedia?: (msg: any) => void}} MediaOptions
 */

export class MediaSession {
  /**
   * @param {MediaOptions} opts
   */
  constructor(opts) {
    this.signal = opts.signal;
    this.publish = opts.publish ?? null;
    this.channel = opts.channel ?? null;
    this.listenToFloorVideo = opts.listenToFloorVideo ?? true;
    this.iceServers = opts.iceServers || [];
    this.iceTransportPolicy = opts.iceTransportPolicy || "all";
    /** Fresh ICE servers (TURN credentials expire) before each new peer connection. */
    this.fetchConfig = opts.fetchConfig || null;
    this.onState = opts.onState || (() => {});
    this.onSessionId = opts.onSessionId || (() => {});
    this.onRenewed = opts.onRenewed || (() => {});
    this.onProblem = opts.onProblem || (() => {});
    this.PC = opts.PeerConnection || globalThis.RTCPeerConnection;
    /** Remote streams, one per m-line; their tracks arrive once negotiated. */
    this.floorVideo = new MediaStream();
    this.floorAudio = new MediaStream();
    this.channelAudio = new MediaStream();
    this.localStream = opts.localStream ?? null;
    this.elements = [];
    this.sessionId = null;
    this.renewals = 0;
    this.closed = false;
    this._timers = new Set();
    this._renewing = null;
    this._wake = null;
    this._build();
  }

  _later(fn, ms) {
    const t = setTimeout(() => { this._timers.delete(t); fn(); }, ms);
    this._timers.add(t);
    return t;
  }

  _clearTimers() {
    for (const t of this._timers) clearTimeout(t);
    this._timers.clear();
  }

  /** A new peer connection with the three m-lines, in order, and the local tracks. */
  _build() {
    const pc = new this.PC({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
      bundlePolicy: "max-bundle",
    });
    this.pc = pc;
    this.video = pc.addTransceiver("video", { direction: "recvonly" });
    this.program = pc.addTransceiver("audio", { direction: "recvonly" });
    this.channelT = pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addEventListener("track", (ev) => { if (pc === this.pc) this._onTrack(ev); });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      this.onState(pc.connectionState);
      this._watch(pc);
    });
    this._setLocal(this.localStream);
  }

  /** Follow the connection: recover from failure, tell the person when it will not connect. */
  _watch(pc) {
    const state = pc.connectionState;
    if (state === "connected") {
      this.onProblem(null);
      this._attempt = 0;
    } else if (state === "failed") {
      this.renew("connection failed");
    } else if (state === "disconnected") {
      this._later(() => {
        if (pc === this.pc && pc.connectionState === "disconnected") this.renew("disconnected");
      }, DISCONNECTED_MS);
    }
  }

  /** The server's word on this tab's media (a `media` message). */
  serverStatus(msg) {
    if (msg.resumed === false && msg.session === this.sessionId) {
      this._wake?.(); // a retry waiting for the server: the server is back, go now
      this.renew("server lost it");
    }
  }

  /**
   * Build a new peer connection and offer again (same session id, so the server replaces
   * the old one). Retries with a growing pause until connected or closed.
   */
  renew(reason = "") {
    if (this.closed) return this._renewing || Promise.resolve();
    if (this._renewing) return this._renewing;
    this._renewing = (async () => {
      for (let attempt = 0; !this.closed; attempt++) {
        const old = this.pc;
        this._clearTimers();
        try { await this.configure(); } catch { /* keep the last ICE servers */ }
        this._build();
        try { old.close(); } catch { /* already closed */ }
        for (const s of [this.floorVideo, this.floorAudio, this.channelAudio]) {
          for (const t of s.getTracks()) s.removeTrack(t);
        }
        try {
          await this.negotiate();
          this.renewals += 1;
          this.onRenewed(reason);
          return;
        } catch (err) {
          const pause = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
          await new Promise((r) => { this._wake = r; setTimeout(r, pause); });
          this._wake = null;
        }
      }
    })().finally(() => { this._renewing = null; });
    return this._renewing;
  }

  /** Ask the server for this tab's ICE servers (STUN, TURN with a fresh credential). */
  async configure() {
    if (!this.fetchConfig) return;
    const config = await this.fetchConfig();
    if (Array.isArray(config?.ice_servers)) this.iceServers = config.ice_servers;
    if (config?.ice_transport_policy) this.iceTransportPolicy = config.ice_transport_policy;
  }

  _onTrack(ev) {
    const target = ev.transceiver === this.video ? this.floorVideo
      : ev.transceiver === this.program ? this.floorAudio
        : ev.transceiver === this.channelT ? this.channelAudio : null;
    if (target && !target.getTracks().includes(ev.track)) target.addTrack(ev.track);
  }

  _setLocal(stream) {
    this.localStream = stream;
    const audio = (this.publish && stream?.getAudioTracks()[0]) || null;
    // The floor and a group member publish their camera too; an interpreter only a mic.
    const withVideo = this.publish === "floor" || this.publish === "member";
    const video = (withVideo && stream?.getVideoTracks()[0]) || null;
    this.program.sender.replaceTrack(audio);
    this.program.direction = audio ? "sendrecv" : "recvonly";
    this.video.sender.replaceTrack(video);
    this.video.direction = video ? "sendrecv" : (this.listenToFloorVideo ? "recvonly" : "inactive");
  }

  /** Offer, wait for the server's answer, apply it. Also used to renegotiate. */
  async negotiate() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await iceGatheringComplete(this.pc);
    const pc = this.pc;
    const reply = await this.signal({
      type: "rtc_offer",
      sdp: pc.localDescription.sdp,
      publish: this.publish,
      channel: this.channel,
    });
    if (!reply || reply.type !== "rtc_answer" || typeof reply.sdp !== "string") {
      throw new Error("the server did not answer the media offer");
    }
    if (pc !== this.pc) return; // replaced meanwhile
    await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    if (reply.session) {
      this.sessionId = reply.session;
      this.onSessionId(reply.session);
    }
    this._later(() => {
      if (pc === this.pc && pc.connectionState !== "connected" && !this.closed) {
        this.onProblem(CANNOT_CONNECT);
        this.renew("not connected in time");
      }
    }, CONNECT_TIMEOUT_MS);
  }

  /** Listen to another language: the server swaps the source, no renegotiation. */
  async selectChannel(channel) {
    const reply = await this.signal({ type: "select_channel", channel });
    this.channel = channel;
    return reply;
  }

  /** Start (or change) publishing on the same peer connection, e.g. given the floor. */
  async startPublishing(publish, localStream) {
    this.publish = publish;
    this._setLocal(localStream);
    await this.negotiate();
  }

  /** Sound only (the listener's choice on a weak link): no floor video, renegotiated. */
  async setAudioOnly(on) {
    this.listenToFloorVideo = !on;
    this._setLocal(this.localStream);
    await this.negotiate();
  }

  /** Stop sending (the floor was taken back): tracks stay with the caller. */
  async stopPublishing() {
    this.publish = null;
    this._setLocal(null);
    await this.negotiate();
  }

  /**
   * Create hidden, autoplaying elements for the remote streams (audio muted: the page
   * mixes audio with WebAudio, see audiomix.js; Chromium still needs an element per stream).
   */
  attachHidden(doc = globalThis.document) {
    const make = (tag, stream) => {
      const el = doc.createElement(tag);
      el.hidden = true;
      el.autoplay = true;
      el.muted = true;
      el.setAttribute("playsinline", "");
      el.srcObject = stream;
      doc.body.append(el);
      el.play?.().catch(() => {});
      this.elements.push(el);
      return el;
    };
    return {
      video: make("video", this.floorVideo),
      floor: make("audio", this.floorAudio),
      channel: make("audio", this.channelAudio),
    };
  }

  close() {
    this.closed = true;
    this._clearTimers();
    for (const el of this.elements) { el.srcObject = null; el.remove(); }
    this.elements = [];
    this.pc.close();
  }
}

/**
 * Connect this tab's media: one peer connection, floor video + floor audio + channel audio,
 * and the local tracks when publishing. Resolves once the answer is applied (media then
 * flows as soon as ICE/DTLS complete). With `live` (the page's LiveConnection) the media
 * session is named in every reconnecting hello and renewed when the server lost it;
 * `onMedia` sees every `media` message (video paused, ...).
 * @param {MediaOptions} opts
 * @returns {Promise<MediaSession>}
 */
export async function connectMedia(opts) {
  const live = opts.live;
  const signal = opts.signal || ((msg) => live.request(msg));
  const fetchConfig = opts.fetchConfig
    || (live ? async () => (await live.request({ type: "rtc_config" })).data : null);
  let config = null;
  if (fetchConfig && !opts.iceServers) {
    try { config = await fetchConfig(); } catch { config = null; }
  }
  const session = new MediaSession({
    ...opts,
    signal,
    fetchConfig,
    iceServers: opts.iceServers || config?.ice_servers || [],
    iceTransportPolicy: opts.iceTransportPolicy || config?.ice_transport_policy || "all",
    onSessionId: (id) => { if (live) live.mediaSession = id; opts.onSessionId?.(id); },
  });
  if (live) {
    live.onMedia = (msg) => { session.serverStatus(msg); opts.onMedia?.(msg); };
  }
  try {
    await session.negotiate();
  } catch (err) {
    session.close();
    throw err;
  }
  return session;
}
