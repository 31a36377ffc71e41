// A Node `ws` echo server, for the comparison rows of the benchmark.
// Runs only where Node and the `ws` module are installed (Debian: node-ws,
// which lives in /usr/share/nodejs: run with NODE_PATH=/usr/share/nodejs).
//   node bench/node_ws_echo.js [--port N] [--address A]   (default 127.0.0.1:9227)
'use strict';
const { WebSocketServer } = require('ws');

let port = 9227;
let host = '127.0.0.1';
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i]);
  else if (args[i] === '--address' && i + 1 < args.length) host = args[++i];
  else {
    console.error('usage: node node_ws_echo.js [--port N] [--address A]');
    process.exit(2);
  }
}

// No compression (the bench measures framing, not zlib); 64 MiB messages for the 16 MiB row.
const wss = new WebSocketServer({ host, port, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('error', (e) => {
  console.error(`node_ws_echo: ${e.message}`);
  process.exit(1);
});
const stop = () => {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
