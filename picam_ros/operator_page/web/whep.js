// Copyright 2026 picam_ros maintainers
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
// WebRTC playback from MediaMTX over WHEP (one recvonly video transceiver; the offer carries no
// candidates and none are trickled: see playWhep). keepWhep re-negotiates whenever a
// session fails, closes or stops delivering frames (MediaMTX restarted, the encoder came
// back, a network change), with a capped backoff, for as long as the page is open.

const WATCH_MS = 250;          // how often a session is checked
const STALL_MIN_MS = 1500;     // a session without a frame for max(this, STALL_FRAMES frame
const STALL_FRAMES = 8;        // intervals) is dropped (a slow camera is not a stalled one)
const FIRST_FRAME_MS = 6000;   // ... or without a first frame this long after it opened
const RETRY_MS = [0, 500, 1000, 2000, 4000];

export async function playWhep(video, url, onState) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.ontrack = (event) => { video.srcObject = event.streams[0] ?? new MediaStream([event.track]); };
  pc.onconnectionstatechange = () => onState(pc.connectionState);
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  // The offer goes out at once, without waiting for the browser's ICE candidates: Chromium
  // hides host addresses behind mDNS names a server cannot resolve, and gathering them took
  // up to 0.5 s of the first frame (bench/first_frame.py --verbose). MediaMTX answers with its
  // own candidates and learns the browser's address from the browser's connectivity checks
  // (a peer-reflexive candidate, RFC 8445 7.3.1.3), as it does for any browser on a LAN.
  const response = await fetch(url, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    pc.close();
    throw new Error(`WHEP ${url}: HTTP ${response.status}`);
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
  const location = response.headers.get('Location');   // the session, to end it (WHEP)
  pc.whepSession = location ? new URL(location, url).href : null;
  return pc;
}

// A stream state of keepWhep in the operator's words: what is wrong and what to look at.
export function describeStream(state, url) {
  const server = (() => { try { return new URL(url).host; } catch { return url; } })();
  if (state === 'connected') return 'playing';
  if (state === 'connecting' || state === 'new') return `connecting to the stream server ${server}`;
  if (state === 'file') return 'playing a recording';
  const why = state.startsWith('retrying: ') ? state.slice('retrying: '.length) : state;
  if (/failed to fetch|networkerror|load failed/i.test(why)) {
    return `the stream server ${server} does not answer: is MediaMTX running, and port ` +
      `${server.split(':')[1] || '8889'} open?`;
  }
  if (/HTTP 404/.test(why)) {
    return `the stream server ${server} has no stream on this path: the camera or ` +
      'its encoder is not publishing';
  }
  const http = /HTTP (\d+)/.exec(why);
  if (http) return `the stream server ${server} refused the video session (HTTP ${http[1]})`;
  if (/no frame/.test(why)) return `the stream stopped delivering frames (${why}); reconnecting`;
  if (/failed|closed|disconnected/.test(why)) {
    return `the WebRTC connection to ${server} ${why.replace('connection ', '')}: are its ` +
      'media port (UDP 8189) reachable from this browser?';
  }
  return why;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Play url into video forever. Callbacks: lastFrameAt() is performance.now() of the latest
// frame the video presented (0: none yet), frameIntervalMs() the usual time between frames;
// onState(state) gets 'connecting', the peer connection's states and 'retrying: <why>';
// onSession(n) the count of sessions opened so far.
export async function keepWhep(video, url, callbacks) {
  const { onState, lastFrameAt, frameIntervalMs, onSession, onSessionUrl } = callbacks;
  let failures = 0;
  let sessions = 0;
  for (;;) {
    let pc = null;
    let why = '';
    try {
      onState('connecting');
      pc = await playWhep(video, url, onState);
      sessions += 1;
      onSession(sessions);
      onSessionUrl?.(pc.whepSession);
      await video.play().catch(() => {});
      const opened = performance.now();
      for (;;) {
        await sleep(WATCH_MS);
        const last = lastFrameAt();
        const now = performance.now();
        const stall = Math.max(STALL_MIN_MS, STALL_FRAMES * frameIntervalMs());
        if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
          why = `connection ${pc.connectionState}`;
        } else if (last > opened && now - last > stall) {
          why = `no frame for ${(stall / 1000).toFixed(1)} s`;
        } else if (last <= opened && now - opened > FIRST_FRAME_MS) {
          why = `no frame ${FIRST_FRAME_MS / 1000} s after connecting`;
        }
        if (why) break;
        if (last > opened) failures = 0;
      }
    } catch (error) {
      why = error.message;
    }
    pc?.close();
    // Tell the server the session is over (it would otherwise wait for its own timeout).
    if (pc?.whepSession) fetch(pc.whepSession, { method: 'DELETE' }).catch(() => {});
    const delay = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
    failures += 1;
    onState(`retrying: ${why}`);
    await sleep(delay);
  }
}
