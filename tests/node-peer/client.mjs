// WebSocket client (npm `ws`) that checks an echo server: `node client.mjs ws://127.0.0.1:PORT/`.
// Offers subprotocol `chat` and permessage-deflate (`ws`'s offer, threshold 0), sends text and
// binary messages and checks each echo, pings and waits for the pong, closes with 1000 "bye"
// and checks the echo. Prints `OK <n> messages, extensions: <negotiated>` and exits 0;
// otherwise `FAIL: <what>` on stderr and exit 1. Gives up after 30 s.
import WebSocket from 'ws';

const fail = (what) => {
  console.error(`FAIL: ${what}`);
  process.exit(1);
};
setTimeout(() => fail('timed out after 30 s'), 30_000).unref();

const letters = (n) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
const messages = [
  'hello',
  'héllo wörld ✓ 🚀',
  '',
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251)),
  letters(70_000),
];

const ws = new WebSocket(process.argv[2], ['chat'], {
  perMessageDeflate: { threshold: 0 },
  maxPayload: 16 * 1024 * 1024,
});
ws.on('error', (e) => fail(`${e.name}: ${e.message}`));
const next = () => new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));

ws.on('open', async () => {
  if (ws.protocol !== 'chat') fail(`subprotocol: expected chat, got ${ws.protocol}`);
  for (const [i, sent] of messages.entries()) {
    const echo = next();
    ws.send(sent, { binary: typeof sent !== 'string' });
    const { data, isBinary } = await echo;
    const same = typeof sent === 'string' ? !isBinary && data.toString('utf8') === sent : isBinary && Buffer.compare(data, sent) === 0;
    if (!same) fail(`message ${i} came back different (${data.length} bytes, binary ${isBinary})`);
  }
  const pong = new Promise((resolve) => ws.once('pong', resolve));
  ws.ping('are you there');
  if (String(await pong) !== 'are you there') fail('the pong does not carry the ping');
  ws.on('close', (code, reason) => {
    if (code !== 1000 || String(reason) !== 'bye') fail(`close echo: ${code} ${reason}`);
    console.log(`OK ${messages.length} messages, extensions: ${ws.extensions || 'none'}`);
    process.exit(0);
  });
  ws.close(1000, 'bye');
});
