// Group discussions on the stage page: which room this city is in, the countdown every room
// shows, and, in a group, every other member heard and seen (one tile per member slot, the
// active speaker highlighted). Entering or leaving a group is a server-side move: this tab
// only adds member slots and publishes its camera and microphone on the same peer connection.
import { $, el } from "./dom.js";
import { clock } from "./countdown.js";
import { t } from "../i18n.js";

export const MAX_OTHERS = 11; // groups of at most 12

/** @param {any} rooms @param {string} me */
export function roomOf(rooms, me) {
  if (!rooms || rooms.phase === "preview") return "plenary";
  for (const r of rooms.rooms || []) {
    if ((r.members || []).includes(me) || (r.visitors || []).includes(me)) return r.id;
  }
  return "plenary";
}

/**
 * Who I hear in my room, in slot order (the server's rule, session/rooms.py group_media):
 * the members, then the visitors who speak there, minus me.
 */
export function othersIn(rooms, me) {
  const room = (rooms?.rooms || []).find((/** @type {any} */ r) => r.id === roomOf(rooms, me));
  if (!room || room.id === "plenary") return [];
  return [...(room.members || []), ...(room.speakers || [])].filter((/** @type {string} */ p) => p !== me);
}

/** Whether I publish in my room: a member of it, or a visitor who speaks there. */
export function speaksIn(rooms, me) {
  const room = (rooms?.rooms || []).find((/** @type {any} */ r) => r.id === roomOf(rooms, me));
  if (!room || room.id === "plenary") return false;
  return (room.members || []).includes(me) || (room.speakers || []).includes(me);
}

/** The group a booth serves (the moderator assigned it), or null: it serves the plenary. */
export function boothRoom(rooms, booth) {
  // assigned during the preview, a booth still serves the plenary until the groups open
  if (!booth || !rooms || (rooms.phase !== "open" && rooms.phase !== "closing")) return null;
  return (rooms?.rooms || []).find((/** @type {any} */ r) => r.id !== "plenary" && r.booth === booth) || null;
}

/**
 * One member slot on a media session: a receive-only audio m-line (and a video one), whose
 * tracks the server points at the i-th member heard (media/rooms.py). The caller renegotiates.
 * @param {any} session @param {{video?: boolean}} [opts]
 */
export function addMemberSlot(session, { video = true } = {}) {
  const audioT = session.pc.addTransceiver("audio", { direction: "recvonly" });
  const videoT = video ? session.pc.addTransceiver("video", { direction: "recvonly" }) : null;
  const stream = new MediaStream();
  for (const tr of [audioT, videoT]) if (tr) stream.addTrack(tr.receiver.track);
  return { audioT, videoT, stream };
}

/**
 * Grow `slots` to `need` (at most MAX_OTHERS) with make(index); true when it added any
 * (the peer connection has new m-lines: renegotiate).
 * @template T @param {T[]} slots @param {number} need @param {(index: number) => T} make
 */
export function growSlots(slots, need, make) {
  let grew = false;
  while (slots.length < Math.min(MAX_OTHERS, need)) {
    slots.push(make(slots.length));
    grew = true;
  }
  return grew;
}

function countdown(rooms, now) {
  const end = rooms.closes_at || rooms.ends_at;
  if (!end) return "";
  const left = Math.max(0, Math.round((Date.parse(end) - now) / 1000));
  return t(rooms.closes_at ? "stage.room_back_in" : "stage.room_left", { time: clock(left * 1000) });
}

/**
 * A room's media on a page's media session: one tile (audio + video m-line) per person heard,
 * the active speaker highlighted, the camera and microphone published while this person
 * speaks there (a member, or a visitor who speaks); a listen-only visitor only receives.
 * Calls to follow() run one after the other (each may renegotiate).
 * @param {{rooms: () => any, me: () => string|undefined, session: () => any,
 *          container: HTMLElement, nameOf: (id: string) => string}} opts
 */
export function memberMedia(opts) {
  /** @type {{slots: any[], stream: MediaStream|null, room: string}} */
  const media = { slots: [], stream: null, room: "plenary" };
  let context = null;

  async function step() {
    const session = opts.session();
    const rooms = opts.rooms();
    const me = opts.me();
    if (!session || !rooms || !me) return;
    const room = roomOf(rooms, me);
    const others = othersIn(rooms, me);
    const speak = speaksIn(rooms, me);
    let renegotiate = false;
    if (room !== "plenary") {
      renegotiate = growSlots(media.slots, others.length, (i) => addSlot(session, i));
    }
    if (speak && !media.stream) {
      media.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      session.publish = "member";
      session._setLocal(media.stream);
      renegotiate = true;
    } else if (!speak && media.stream) {
      for (const track of media.stream.getTracks()) track.stop();
      media.stream = null;
      session.publish = null;
      session._setLocal(null);
      renegotiate = true;
    }
    if (renegotiate) await session.negotiate();
    const heard = room === "plenary" ? [] : others;
    media.slots.forEach((slot, i) => {
      const who = heard[i];
      slot.tile.hidden = !who;
      slot.label.textContent = who ? opts.nameOf(who) : "";
      slot.tile.dataset.person = who || "";
    });
    media.room = room;
  }

  let chain = Promise.resolve();
  function follow() {
    chain = chain.then(step, step);
    return chain;
  }

  /** One member slot: an audio and a video m-line, a tile with a level meter. */
  function addSlot(session, index) {
    const { audioT, videoT, stream } = addMemberSlot(session);
    const video = el("video", { autoplay: true, playsInline: true, muted: true });
    video.srcObject = stream;
    video.play?.().catch(() => {});
    const label = el("span", { class: "member-name" }, "");
    const tile = el("figure", { class: "member-tile", "data-slot": String(index) }, video, label);
    tile.hidden = true;
    opts.container.append(tile);
    const level = memberLevel(stream, tile);
    return { audioT, videoT, stream, video, label, tile, level };
  }

  function memberLevel(stream, tile) {
    context = context || new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const analyser = context.createAnalyser();
    analyser.fftSize = 8192;
    source.connect(analyser);
    analyser.connect(context.destination); // members are heard at full volume
    const data = new Float32Array(analyser.fftSize);
    return {
      analyser,
      rms() {
        analyser.getFloatTimeDomainData(data);
        let sum = 0;
        for (const v of data) sum += v * v;
        return Math.sqrt(sum / data.length);
      },
      tile,
    };
  }

  // Active speaker: the loudest member over a threshold, refreshed a few times a second.
  setInterval(() => {
    let best = null, bestLevel = 0.01;
    for (const slot of media.slots) {
      const level = slot.tile.hidden ? 0 : slot.level.rms();
      if (level > bestLevel) { best = slot; bestLevel = level; }
    }
    for (const slot of media.slots) slot.tile.classList.toggle("speaking", slot === best);
  }, 300);

  /** The peer connection is gone (rebuilt, or closed): its slots died with it. */
  function reset() {
    for (const slot of media.slots) slot.tile.remove();
    media.slots.length = 0;
  }

  /** Stop publishing and drop the slots (the page closes its media session). */
  function release() {
    for (const track of media.stream?.getTracks() || []) track.stop();
    media.stream = null;
    reset();
    media.room = "plenary";
  }

  return {
    media,
    follow,
    reset,
    release,
    /** Dominant frequency heard from member slot i (tests and diagnostics). */
    frequency(i) {
      const slot = media.slots[i];
      if (!slot || !context) return 0;
      const bins = new Float32Array(slot.level.analyser.frequencyBinCount);
      slot.level.analyser.getFloatFrequencyData(bins);
      let k = 0;
      for (let j = 1; j < bins.length; j++) if (bins[j] > bins[k]) k = j;
      return (k * context.sampleRate) / slot.level.analyser.fftSize;
    },
  };
}

/**
 * Render the room panel and keep the member media in step.
 * @param {{state: any}} ui
 */
export function mountRooms(ui) {
  const { state } = ui;
  const panel = $("room-panel");

  function render() {
    const rooms = state.snapshot?.rooms;
    const me = state.you?.id;
    if (!rooms || !me) return;
    const room = roomOf(rooms, me);
    const info = rooms.rooms.find((/** @type {any} */ r) => r.id === room);
    panel.hidden = room === "plenary" && rooms.phase !== "closing";
    panel.dataset.room = room;
    $("room-title").textContent = room === "plenary" ? t("stage.room_plenary") : info?.title || room;
    $("room-countdown").textContent = countdown(rooms, serverNow());
    const roles = [];
    if (info?.facilitator) roles.push(t("stage.room_facilitator", { name: nameOf(info.facilitator) }));
    if (info?.rapporteur) roles.push(t("stage.room_rapporteur", { name: nameOf(info.rapporteur) }));
    $("room-roles").textContent = roles.join(" · ");
  }

  // The countdown follows the server's clock, not this machine's.
  let offset = 0;
  document.addEventListener("simultan:welcome", () => {
    const t = Date.parse(state.snapshot?.server_time || "");
    if (!Number.isNaN(t)) offset = t - Date.now();
  });
  const serverNow = () => Date.now() + offset;

  function nameOf(id) {
    return state.snapshot?.rooms?.names?.[id] || id.slice(0, 8);
  }

  const members = memberMedia({
    rooms: () => state.snapshot?.rooms,
    me: () => state.you?.id,
    session: () => state.media?.session,
    container: $("room-members"),
    nameOf,
  });

  function follow() {
    render();
    return members.follow();
  }

  setInterval(render, 300);
  document.addEventListener("simultan:event", (/** @type {any} */ ev) => {
    if (ev.detail.name === "rooms") follow().catch((err) => console.error(err));
  });
  document.addEventListener("simultan:media", () => follow().catch((err) => console.error(err)));
  // A rebuilt peer connection (ICE failed, the server restarted) has only the plenary m-lines:
  // the old slots' transceivers died with the old one. Open them again on the new one.
  document.addEventListener("simultan:renewed", () => {
    members.reset();
    follow().catch((err) => console.error(err));
  });
  render();
  return { media: members.media, follow, frequency: members.frequency };
}
