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

export class MediaSession {
  /**
   * @param {{signal: Signal, publish?: "floor"|"booth"|null, channel?: string|null,
   *          localStream?: MediaStream|null, listenToFloorVideo?: boolean,
   *          PeerConnection?: any, onState?: (state: string) => void}} opts
   */
  constructor(opts) {
    this.signal = opts.signal;
    this.publish = opts.publish ?? null;
    this.channel = opts.channel ?? null;
    this.listenToFloorVideo = opts.listenToFloorVideo ?? true;
    this.onState = opts.onState || (() => {});
    const PC = opts.PeerConnection || globalThis.RTCPeerConnection;
    this.pc = new PC({ iceServers: [], bundlePolicy: "max-bundle" });
    /** Remote streams, one per m-line; their tracks arrive once negotiated. */
    this.floorVideo = new MediaStream();
    this.floorAudio = new MediaStream();
    this.channelAudio = new MediaStream();
    this.localStream = null;
    this.elements = [];
    this.video = this.pc.addTransceiver("video", { direction: "recvonly" });
    this.program = this.pc.addTransceiver("audio", { direction: "recvonly" });
    this.channelT = this.pc.addTransceiver("audio", { direction: "recvonly" });
    this.pc.addEventListener("track", (ev) => this._onTrack(ev));
    this.pc.addEventListener("connectionstatechange", () => this.onState(this.pc.connectionState));
    this._setLocal(opts.localStream ?? null);
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
    const video = (this.publish === "floor" && stream?.getVideoTracks()[0]) || null;
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
    const reply = await this.signal({
      type: "rtc_offer",
      sdp: this.pc.localDescription.sdp,
      publish: this.publish,
      channel: this.channel,
    });
    if (!reply || reply.type !== "rtc_answer" || typeof reply.sdp !== "string") {
      throw new Error("the server did not answer the media offer");
    }
    await this.pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
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
    for (const el of this.elements) { el.srcObject = null; el.remove(); }
    this.elements = [];
    this.pc.close();
  }
}

/**
 * Connect this tab's media: one peer connection, floor video + floor audio + channel audio,
 * and the local tracks when publishing. Resolves once the answer is applied (media then
 * flows as soon as ICE/DTLS complete).
 * @param {{signal: Signal, publish?: "floor"|"booth"|null, channel?: string|null,
 *          localStream?: MediaStream|null, listenToFloorVideo?: boolean,
 *          onState?: (state: string) => void}} opts
 * @returns {Promise<MediaSession>}
 */
export async function connectMedia(opts) {
  const session = new MediaSession(opts);
  try {
    await session.negotiate();
  } catch (err) {
    session.close();
    throw err;
  }
  return session;
}
