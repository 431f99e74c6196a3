// WebAudio for the stage and the booth: mix a language channel with the floor under it,
// meter a stream's level, and find a stream's dominant frequency (tests).
//
// Chromium quirk: a remote WebRTC track feeds WebAudio only while it is also attached to a
// playing media element. Every remote stream given to a Mixer or a meter therefore also
// gets a hidden, muted <audio> element (muted: the sound comes out of WebAudio, once).

/** Keep a remote stream flowing into WebAudio (see above); returns the element. */
export function keepFlowing(stream, doc = globalThis.document) {
  if (!doc) return null;
  const el = doc.createElement("audio");
  el.hidden = true;
  el.muted = true;
  el.autoplay = true;
  el.srcObject = stream;
  doc.body.append(el);
  el.play?.().catch(() => {});
  return el;
}

/** Named inputs, each through its own gain, summed to the speakers. */
export class Mixer {
  /** @param {{context?: AudioContext, doc?: Document}} [opts] */
  constructor(opts = {}) {
    this.context = opts.context || new AudioContext();
    this.doc = opts.doc ?? globalThis.document;
    this.inputs = new Map();
    this.master = this.context.createGain();
    this.master.connect(this.context.destination);
  }

  /** Add (or replace) an input; gain 0..1 (values above 1 amplify). */
  add(name, stream, gain = 1) {
    this.remove(name);
    const source = this.context.createMediaStreamSource(stream);
    const node = this.context.createGain();
    node.gain.value = gain;
    source.connect(node).connect(this.master);
    const element = keepFlowing(stream, this.doc);
    this.inputs.set(name, { source, node, element, stream });
    return node;
  }

  /** Smoothly change an input's gain (no clicks). */
  setGain(name, gain, seconds = 0.05) {
    const input = this.inputs.get(name);
    if (!input) return;
    input.node.gain.setTargetAtTime(gain, this.context.currentTime, seconds / 3);
  }

  /** Re-read every input's stream (its tracks were replaced: a new peer connection). */
  refresh() {
    for (const [name, input] of [...this.inputs]) this.add(name, input.stream, input.node.gain.value);
  }

  remove(name) {
    const input = this.inputs.get(name);
    if (!input) return;
    input.source.disconnect();
    input.node.disconnect();
    if (input.element) { input.element.srcObject = null; input.element.remove(); }
    this.inputs.delete(name);
  }

  /** Browsers start an AudioContext suspended until a user gesture: call from a click. */
  resume() { return this.context.resume(); }

  close() {
    for (const name of [...this.inputs.keys()]) this.remove(name);
    this.master.disconnect();
    return this.context.close();
  }
}

/**
 * The stage mix: the language channel at full volume with the original (floor) under it.
 * `original` is the 0..1 "original under interpretation" slider. When the listener picked
 * the floor's own language, set it to 0 (the channel already is the floor).
 */
/** @param {{channel: MediaStream, floor: MediaStream, original?: number, context?: AudioContext, doc?: Document}} opts */
export function mixChannelWithFloor({ channel, floor, original = 0.15, context, doc }) {
  const mixer = new Mixer({ context, doc });
  mixer.add("channel", channel, 1);
  mixer.add("floor", floor, clamp01(original));
  return {
    mixer,
    setOriginal(value) { mixer.setGain("floor", clamp01(value)); },
    close() { return mixer.close(); },
  };
}

/**
 * The booth mix: what the interpreter interprets from (floor or relay) at full volume and
 * their partner at a lower one.
 */
/** @param {{program: MediaStream, partner: MediaStream, partnerVolume?: number, context?: AudioContext, doc?: Document}} opts */
export function mixBooth({ program, partner, partnerVolume = 0.3, context, doc }) {
  const mixer = new Mixer({ context, doc });
  mixer.add("program", program, 1);
  mixer.add("partner", partner, clamp01(partnerVolume));
  return {
    mixer,
    setPartnerVolume(value) { mixer.setGain("partner", clamp01(value)); },
    close() { return mixer.close(); },
  };
}

/**
 * A level meter on a stream: an AnalyserNode (not connected to the speakers).
 * `level()` is the RMS of the last window, 0..1; `dbfs()` the same in dBFS.
 * @param {MediaStream} stream
 * @param {{context?: AudioContext, doc?: Document, fftSize?: number, remote?: boolean}} [opts]
 */
export function levelMeter(stream, opts = {}) {
  const context = opts.context || new AudioContext();
  let source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = opts.fftSize || 8192;
  analyser.smoothingTimeConstant = 0;
  source.connect(analyser);
  // Local (microphone) streams flow without an element; remote ones need it.
  const element = opts.remote === false ? null : keepFlowing(stream, opts.doc ?? globalThis.document);
  const samples = new Float32Array(analyser.fftSize);
  const level = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    return Math.sqrt(sum / samples.length);
  };
  return {
    analyser,
    context,
    level,
    dbfs() { const l = level(); return l > 0 ? 20 * Math.log10(l) : -Infinity; },
    /** Re-read the stream (its tracks were replaced: a new peer connection). */
    refresh() {
      source.disconnect();
      source = context.createMediaStreamSource(stream);
      source.connect(analyser);
    },
    close() {
      source.disconnect();
      if (element) { element.srcObject = null; element.remove(); }
      if (!opts.context) context.close();
    },
  };
}

/**
 * The strongest frequency an AnalyserNode hears now, in Hz (0 for silence), with parabolic
 * interpolation between bins (fftSize 8192 at 48 kHz: bins of 5.9 Hz).
 */
export function dominantFrequency(analyser) {
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = -1;
  let bestDb = -Infinity;
  for (let i = 1; i < bins.length - 1; i++) {
    if (bins[i] > bestDb) { bestDb = bins[i]; best = i; }
  }
  if (best < 1 || bestDb === -Infinity || bestDb < -100) return 0;
  const [a, b, c] = [bins[best - 1], bins[best], bins[best + 1]];
  const denom = a - 2 * b + c;
  const shift = denom === 0 ? 0 : 0.5 * (a - c) / denom;
  const binHz = analyser.context.sampleRate / analyser.fftSize;
  return (best + shift) * binHz;
}

function clamp01(v) {
  const n = Number(v);
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
}
