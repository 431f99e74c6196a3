// The stage's media: one peer connection (floor video, floor audio, the chosen channel),
// the original-under-interpretation mix, and publishing camera + mic when given the floor.
import { connectMedia } from "../media.js";
import { mixChannelWithFloor, levelMeter } from "../audiomix.js";

/**
 * @param {{live: any, state: any, video: HTMLVideoElement, select: HTMLSelectElement,
 *          original: HTMLInputElement, onError: (msg: string) => void}} ui
 */
export async function startStageMedia(ui) {
  const { live, state } = ui;
  const floorLanguage = state.snapshot.event.floor_language;
  const signal = (msg) => live.request(msg);
  const session = await connectMedia({ signal, publish: null, channel: ui.select.value });
  session.attachHidden();
  ui.video.srcObject = session.floorVideo;
  ui.video.play?.().catch(() => {});
  const originalLevel = () => (ui.select.value === floorLanguage ? 0 : Number(ui.original.value));
  const mix = mixChannelWithFloor({
    channel: session.channelAudio, floor: session.floorAudio, original: originalLevel(),
  });
  await mix.mixer.resume();
  const channelMeter = levelMeter(session.channelAudio, { context: mix.mixer.context });
  ui.select.addEventListener("change", async () => {
    try {
      await session.selectChannel(ui.select.value);
      mix.setOriginal(originalLevel());
    } catch (err) {
      ui.onError(err.message);
    }
  });
  ui.original.addEventListener("input", () => mix.setOriginal(originalLevel()));

  // Given the floor: publish camera and microphone on the same peer connection.
  let publishing = null;
  async function followFloor() {
    const holder = state.snapshot.floor?.holder;
    const mine = holder && holder.id === state.you.id;
    try {
      if (mine && !publishing) {
        publishing = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
        await session.startPublishing("floor", publishing);
      } else if (!mine && publishing) {
        for (const t of publishing.getTracks()) t.stop();
        publishing = null;
        await session.stopPublishing();
      }
    } catch (err) {
      ui.onError(`Camera/microphone: ${err.message}`);
    }
  }
  document.addEventListener("simultan:event", (ev) => { if (ev.detail.name === "floor") followFloor(); });
  await followFloor();
  return { session, mix, channelMeter, isPublishing: () => !!publishing };
}
