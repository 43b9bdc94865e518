// WebSocket echo server (npm `ws`) for rustchat-ws's interop tests, with permessage-deflate
// (`ws`'s defaults, threshold 0 so that every message is compressed).
//
// Binds 127.0.0.1 on a free port and prints exactly one line `LISTENING <port>` once it
// accepts connections. Echoes text and binary messages unchanged, selects subprotocol `chat`
// when offered. Exits after 60 s, or as soon as stdin reaches EOF (spawn it with a piped stdin).
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: 16 * 1024 * 1024,
  perMessageDeflate: { threshold: 0 },
  handleProtocols: (offered) => (offered.has('chat') ? 'chat' : false),
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on('listening', () => console.log(`LISTENING ${server.address().port}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), 60_000).unref();
