// The stage's media: one peer connection (floor video, floor audio, the chosen channel),
// the original-under-interpretation mix, and publishing camera + mic when given the floor.
import { connectMedia } from "../media.js";
import { mixChannelWithFloor, levelMeter } from "../audiomix.js";
import { t } from "../i18n.js";
import { hearing } from "../listening.js";

/**
 * @param {{live: any, state: any, video: HTMLVideoElement, select: HTMLSelectElement,
 *          original: HTMLInputElement, volume?: HTMLInputElement,
 *          onError: (msg: string) => void, onProblem?: (text: string|null) => void,
 *          onMedia?: (msg: any) => void}} ui
 */
export async function startStageMedia(ui) {
  const { live, state } = ui;
  const result = {};
  const session = await connectMedia({
    live, publish: null, channel: ui.select.value,
    onRenewed: () => {
      result.mix?.mixer.refresh(); result.channelMeter?.refresh();
      // a new peer connection has only the plenary m-lines: the group's slots are opened again
      document.dispatchEvent(new CustomEvent("simultan:renewed"));
    },
    onProblem: (text) => ui.onProblem?.(text),
    onMedia: (msg) => ui.onMedia?.(msg),
  });
  session.attachHidden();
  ui.video.srcObject = session.floorVideo;
  ui.video.play?.().catch(() => {});
  // The original goes under an interpretation only: when the channel carries the floor
  // (the listener's choice, or no interpreter is live), it already is the original.
  const originalLevel = () => (hearing(state.snapshot, ui.select.value).kind === "interpretation"
    ? Number(ui.original.value) : 0);
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
  const setVolume = () => {
    const gain = Number(ui.volume?.value ?? 1);
    mix.mixer.master.gain.setTargetAtTime(gain, mix.mixer.context.currentTime, 0.02);
  };
  ui.volume?.addEventListener("input", setVolume);
  setVolume();

  // Given the floor: publish camera and microphone on the same peer connection.
  let publishing = null;
  async function followFloor() {
    // The floor is a set of live speakers: publish while one of them (a per-person grant).
    const mine = (state.snapshot.floor?.live || []).some((s) => s.person_id === state.you.id);
    try {
      if (mine && !publishing) {
        publishing = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
        document.dispatchEvent(new CustomEvent("simultan:publishing", { detail: publishing }));
        await session.startPublishing("floor", publishing);
      } else if (!mine && publishing) {
        for (const t of publishing.getTracks()) t.stop();
        publishing = null;
        document.dispatchEvent(new CustomEvent("simultan:publishing", { detail: null }));
        await session.stopPublishing();
      }
    } catch (err) {
      ui.onError(t("stage.camera_error", { message: err.message }));
    }
  }
  document.addEventListener("simultan:event", (/** @type {any} */ ev) => {
    if (ev.detail.name === "floor") followFloor();
    if (ev.detail.name === "floor" || ev.detail.name === "booth") mix.setOriginal(originalLevel());
  });
  await followFloor();
  return Object.assign(result, { session, mix, channelMeter, isPublishing: () => !!publishing });
}
