// The booth's media: the interpreter's microphone published into the booth, what the booth
// hears (floor or relay) at full volume and the partner under it, and a mic level meter.
import { connectMedia } from "../media.js";
import { mixBooth, levelMeter } from "../audiomix.js";

export async function startBoothMedia(live, state, partnerVolume, meterBar) {
  const localStream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  state.localStream = localStream;
  const session = await connectMedia({
    signal: (msg) => live.request(msg), publish: "booth", channel: null, localStream,
  });
  session.attachHidden();
  const mix = mixBooth({
    program: session.floorAudio, partner: session.channelAudio,
    partnerVolume: Number(partnerVolume.value),
  });
  await mix.mixer.resume();
  partnerVolume.addEventListener("input", () => {
    const booth = state.snapshot?.booths?.[state.you.booth];
    mix.setPartnerVolume(booth?.live === state.you.id ? 0 : Number(partnerVolume.value));
  });
  const micMeter = levelMeter(localStream, { context: mix.mixer.context, remote: false });
  const programMeter = levelMeter(session.floorAudio, { context: mix.mixer.context });
  const tick = () => {
    meterBar.style.width = `${Math.min(100, micMeter.level() * 300)}%`;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  state.media = { session, mix, micMeter, programMeter };
  return state.media;
}
