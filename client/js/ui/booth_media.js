// The booth's media: the interpreter's microphone published into the booth, what the booth
// hears (floor or relay) with its own volume and the partner under it, the floor video,
// level meters on the own mic (meter, silence warning) and on the partner (both mics open).
// While the booth serves a group, the group's members instead of the floor: one receive
// slot per member, added as the stage adds them (stage_rooms.js), mixed at the floor volume.
import { connectMedia } from "../media.js";
import { mixBooth, levelMeter } from "../audiomix.js";
import { addMemberSlot, growSlots } from "./stage_rooms.js";

/**
 * @param {any} live
 * @param {any} state
 * @param {{partnerVolume: HTMLInputElement, floorVolume?: HTMLInputElement,
 *          meterBar: HTMLElement, video?: HTMLVideoElement,
 *          onProblem?: (text: string|null) => void}} ui
 */
export async function startBoothMedia(live, state, ui) {
  const localStream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  state.localStream = localStream;
  const session = await connectMedia({
    live, publish: "booth", channel: null, localStream,
    onRenewed: () => {
      state.media?.mix.mixer.refresh(); state.media?.programMeter?.refresh(); state.media?.partnerMeter?.refresh();
      // a new peer connection has only the three plenary m-lines: open the member slots again
      slots.length = 0;
      for (let i = 0; i < heardSlots; i++) mix.mixer.remove(`member-${i}`);
      heardSlots = 0;
      followRoom(roomSize);
    },
    onProblem: (text) => ui.onProblem?.(text),
  });
  session.attachHidden();
  if (ui.video) {
    ui.video.srcObject = session.floorVideo;
    ui.video.play?.().catch(() => {});
  }
  const mix = mixBooth({
    program: session.floorAudio, partner: session.channelAudio,
    partnerVolume: Number(ui.partnerVolume.value),
  });
  await mix.mixer.resume();
  ui.partnerVolume.addEventListener("input", () => {
    const booth = state.snapshot?.booths?.[state.you.booth];
    mix.setPartnerVolume(booth?.live === state.you.id ? 0 : Number(ui.partnerVolume.value));
  });
  const floorGain = () => Number(ui.floorVolume?.value ?? 1);
  /** @type {MediaStream[]} member slot streams; mixed in only while the booth serves a group */
  const slots = [];
  let heardSlots = 0;
  const setFloor = () => {
    mix.mixer.setGain("program", floorGain());
    for (let i = 0; i < heardSlots; i++) mix.mixer.setGain(`member-${i}`, floorGain());
  };
  ui.floorVolume?.addEventListener("input", setFloor);
  setFloor();
  // What the interpreter hears, after the mix (level and tone checks).
  const heard = mix.mixer.context.createAnalyser();
  heard.fftSize = 8192;
  heard.smoothingTimeConstant = 0;
  mix.mixer.master.connect(heard);

  let following = Promise.resolve();
  let roomSize = 0;
  /**
   * Hear `count` group members (0: the plenary, the floor again). The server points member
   * slot i at the group's i-th member and silences the floor meanwhile (media/rooms.py).
   * @param {number} count
   */
  const followRoom = (count) => {
    roomSize = count;
    following = following.then(async () => {
      if (growSlots(slots, count, () => addMemberSlot(session, { video: false }).stream)) {
        await session.negotiate();
      }
      const want = Math.min(count, slots.length);
      for (let i = heardSlots; i < want; i++) mix.mixer.add(`member-${i}`, slots[i], floorGain());
      for (let i = want; i < heardSlots; i++) mix.mixer.remove(`member-${i}`);
      heardSlots = want;
    }).catch((err) => console.error(err));
    return following;
  };
  const micMeter = levelMeter(localStream, { context: mix.mixer.context, remote: false });
  const programMeter = levelMeter(session.floorAudio, { context: mix.mixer.context });
  const partnerMeter = levelMeter(session.channelAudio, { context: mix.mixer.context });
  const tick = () => {
    ui.meterBar.style.width = `${Math.min(100, micMeter.level() * 300)}%`;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  state.media = { session, mix, micMeter, programMeter, partnerMeter, heard, followRoom };
  return state.media;
}
