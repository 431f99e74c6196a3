// The booth's media: the interpreter's microphone published into the booth, what the booth
// hears (floor or relay) with its own volume and the partner under it, the floor video,
// level meters on the own mic (meter, silence warning) and on the partner (both mics open).
import { connectMedia } from "../media.js";
import { mixBooth, levelMeter } from "../audiomix.js";

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
    onRenewed: () => { state.media?.mix.mixer.refresh(); state.media?.programMeter?.refresh(); state.media?.partnerMeter?.refresh(); },
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
  const setFloor = () => mix.mixer.setGain("program", Number(ui.floorVolume?.value ?? 1));
  ui.floorVolume?.addEventListener("input", setFloor);
  setFloor();
  const micMeter = levelMeter(localStream, { context: mix.mixer.context, remote: false });
  const programMeter = levelMeter(session.floorAudio, { context: mix.mixer.context });
  const partnerMeter = levelMeter(session.channelAudio, { context: mix.mixer.context });
  const tick = () => {
    ui.meterBar.style.width = `${Math.min(100, micMeter.level() * 300)}%`;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  state.media = { session, mix, micMeter, programMeter, partnerMeter };
  return state.media;
}
