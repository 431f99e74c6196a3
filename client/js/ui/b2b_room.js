// A B2B meeting's room on the B2B page: one live connection and one peer connection for the
// meeting. The tab joins the meeting (`b2b_join`, admitted from its start until its end),
// publishes camera and microphone as a member and receives each other company on a member
// slot (audio and video); with an interpreter booked, the channel slot carries the
// interpretation into the person's language (the original is then heard softer). The
// server's `b2b_room` events (open, ending, grace, closed) come back through `onEvent`.
import { LiveConnection, wsUrl } from "../protocol.js";
import { connectMedia } from "../media.js";
import { Mixer, dominantFrequency, levelMeter } from "../audiomix.js";
import { t } from "../i18n.js";
import { el } from "./dom.js";

const ORIGINAL_UNDER = 0.25; // the companies' own voices under an interpretation

/** @type {any} */
let current = null;

/**
 * Open the websocket once per page (events also arrive while no meeting is joined).
 * @param {string} token @param {(ev: any) => void} onEvent
 */
export function connectLive(token, onEvent) {
  /** @type {(msg: any) => void} */
  let welcomed = () => {};
  /** @type {Promise<any>} */
  const ready = new Promise((resolve) => { welcomed = resolve; });
  const live = new LiveConnection({
    url: wsUrl(), token, onEvent, onWelcome: (/** @type {any} */ msg) => welcomed(msg),
  });
  live.connect();
  return { live, ready };
}

/**
 * Enter meeting `m`: join, then media with one member slot per other participant.
 * @param {any} m @param {{live: any, you: any, box: HTMLElement, hearing: HTMLElement,
 *   nameOf: (id: string) => string}} opts
 */
export async function joinMeeting(m, { live, you, box, hearing, nameOf }) {
  if (current) await leaveMeeting();
  const joined = (await live.request({ type: "b2b_join", meeting: m.id })).data;
  const others = joined.participants.filter((/** @type {string} */ p) => p !== you.id);
  const interpreting = joined.interpreter !== you.id && joined.languages.includes(you.language);
  const channel = interpreting ? you.language : null;
  const room = { id: m.id, live, stream: null, session: null, slots: [], mixer: null };
  current = room;
  try {
    room.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: joined.interpreter !== you.id });
    room.session = await connectMedia({
      live, publish: "member", channel, localStream: room.stream, listenToFloorVideo: false,
    });
    room.mixer = new Mixer();
    const pc = room.session.pc;
    room.slots = others.map((/** @type {string} */ who) => {
      const audioT = pc.addTransceiver("audio", { direction: "recvonly" });
      const videoT = pc.addTransceiver("video", { direction: "recvonly" });
      const stream = new MediaStream([audioT.receiver.track, videoT.receiver.track]);
      const video = el("video", { autoplay: true, playsInline: true, muted: true });
      video.srcObject = stream;
      video.play?.().catch(() => {});
      box.append(el("figure", { className: "member-tile", "data-person": who }, video,
        el("figcaption", {}, nameOf(who))));
      room.mixer.add(who, stream, channel ? ORIGINAL_UNDER : 1);
      return { who, stream, meter: levelMeter(stream, { context: room.mixer.context }) };
    });
    if (channel) room.mixer.add("channel", room.session.channelAudio, 1);
    room.channelMeter = levelMeter(room.session.channelAudio, { context: room.mixer.context });
    await room.session.negotiate();
    room.mixer.resume();
    hearing.textContent = channel
      ? t("b2b.hearing_interpretation", { language: channel })
      : t("b2b.hearing_original");
  } catch (err) {
    await leaveMeeting();
    throw err;
  }
  return room;
}

/** Leave the meeting's room: stop the camera and microphone, close the peer connection. */
export async function leaveMeeting() {
  const room = current;
  if (!room) return;
  current = null;
  for (const slot of room.slots) slot.meter.close();
  room.channelMeter?.close();
  if (room.mixer) room.mixer.close();
  for (const track of room.stream?.getTracks() || []) track.stop();
  if (room.session) room.session.close();
  try {
    await room.live.request({ type: "b2b_leave" });
  } catch { /* the server closed the room already */ }
}

/** For tests and diagnostics: the dominant frequency heard from member slot i (or the channel). */
export function frequency(/** @type {number | "channel"} */ i) {
  if (!current) return 0;
  const meter = i === "channel" ? current.channelMeter : current.slots[i]?.meter;
  return meter ? dominantFrequency(meter.analyser) : 0;
}

export function inMeeting() { return current ? current.id : null; }
