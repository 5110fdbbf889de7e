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
// WebRTC playback from MediaMTX over WHEP (one recvonly video transceiver, non-trickle ICE:
// on loopback and a LAN gathering takes milliseconds).

export async function playWhep(video, url, onState) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.ontrack = (event) => { video.srcObject = event.streams[0] ?? new MediaStream([event.track]); };
  pc.onconnectionstatechange = () => onState(pc.connectionState);
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, 2000);
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    };
  });
  const response = await fetch(url, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    pc.close();
    throw new Error(`WHEP ${url}: HTTP ${response.status}`);
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
  return pc;
}
