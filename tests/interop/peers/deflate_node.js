// Interop, permessage-deflate with Node's ws (perMessageDeflate on, threshold 0: every message
// compressed), both directions, with and without context takeover:
// - ws clients against $WSC_BIN/echo_server --deflate;
// - a ws server against $WSC_BIN/echo_client --echo --deflate.
// Text, binary, fragmented, 1 MiB and 16 MiB messages, compressible and incompressible.
// Prints one line per check and `N passed, N failed` last. Started by deflate_node.sh.
'use strict';
const {spawn} = require('child_process');
const crypto = require('crypto');
const net = require('net');
const path = require('path');
const WebSocket = require('ws');

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, process.env.WSC_BIN || 'build/asan/bin');
const STEP_MS = 60000;
const MiB = 1024 * 1024;
let passed = 0, failed = 0;

function report(ok, name, detail)
{
    if (ok) {
        passed++;
        console.log(`ok   ${name}`);
    } else {
        failed++;
        console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
    }
}

function jsonLike(n)
{
    const parts = [];
    let len = 0;
    for (let i = 0; len < n; i++) {
        const r = `{"id":${i},"user":"wsc","tags":["alpha","beta"],"score":${i * 7 % 1000}}\n`;
        parts.push(r);
        len += r.length;
    }
    return parts.join('').slice(0, n);
}

function messages()
{
    const rnd = crypto.randomBytes(16 * MiB);
    return [
        [ 'hello', 'Hello' ],
        [ 'empty text', '' ],
        [ 'utf-8', 'h\u00e9llo \u20ac \u{1f600}'.repeat(40) ],
        [ 'small binary', Buffer.from([ 0, 1, 2 ]) ],
        [ 'empty binary', Buffer.alloc(0) ],
        [ '64 KiB json', jsonLike(65536) ],
        [ '64 KiB random', rnd.subarray(0, 65536) ],
        [ '1 MiB json', jsonLike(MiB) ],
        [ '1 MiB random', rnd.subarray(0, MiB) ],
        [ '16 MiB json', Buffer.from(jsonLike(16 * MiB)) ],
        [ '16 MiB random', rnd ],
    ];
}

function same(got, isBinary, want)
{
    if (typeof want === 'string')
        return !isBinary && got.toString() === want;
    return isBinary && Buffer.compare(Buffer.from(got), want) === 0;
}

function freePort()
{
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
            const p = s.address().port;
            s.close(() => resolve(p));
        });
        s.on('error', reject);
    });
}

function waitListening(port, child)
{
    const end = Date.now() + 20000;
    return new Promise((resolve) => {
        const attempt = () => {
            if (child.exitCode !== null)
                return resolve(false);
            const c = net.connect(port, '127.0.0.1');
            c.on('connect', () => {
                c.destroy();
                resolve(true);
            });
            c.on('error', () => {
                c.destroy();
                if (Date.now() > end)
                    resolve(false);
                else
                    setTimeout(attempt, 50);
            });
        };
        attempt();
    });
}

function withTimeout(p, what)
{
    let t;
    return Promise
        .race([
            p,
            new Promise(
                (_,
                 rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out`)), STEP_MS); })
        ])
        .finally(() => clearTimeout(t));
}

// Sends one message (or fragments) and waits for the next message.
function exchange(ws, send)
{
    let onMessage, onClose;
    return withTimeout(new Promise((resolve, reject) => {
                           onMessage = (data, isBinary) => resolve([ data, isBinary ]);
                           onClose = (code) => reject(new Error(`closed with ${code}`));
                           ws.once('message', onMessage);
                           ws.once('close', onClose);
                           send();
                       }),
                       'echo')
        .finally(() => {
            ws.off('message', onMessage);
            ws.off('close', onClose);
        });
}

// ---- ws clients against our server ----
async function clientRun(port, takeover, label)
{
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
        perMessageDeflate : {
            threshold : 0,
            serverNoContextTakeover : !takeover,
            clientNoContextTakeover : !takeover
        },
        maxPayload : 0,
    });
    await withTimeout(new Promise((res, rej) => {
                          ws.once('open', res);
                          ws.once('error', rej);
                      }),
                      'open');
    const pmd = ws._extensions['permessage-deflate'];
    const params = pmd ? pmd.params : null;
    report(params !== null && (takeover || params.server_no_context_takeover === true),
           `${label}: negotiated`, JSON.stringify(params));
    for (const [name, m] of messages()) {
        try {
            const [got, bin] =
                await exchange(ws, () => ws.send(m, {binary : typeof m !== 'string'}));
            report(same(got, bin, m), `${label}: ${name}`);
        } catch (e) {
            report(false, `${label}: ${name}`, e.message);
        }
    }
    try {
        const text = jsonLike(30000);
        const [got, bin] = await exchange(ws, () => {
            for (let i = 0; i < 3; i++)
                ws.send(text.slice(i * 10000, (i + 1) * 10000), {fin : i === 2, binary : false});
        });
        report(same(got, bin, text), `${label}: fragmented text`);
        const parts = [ crypto.randomBytes(5000), crypto.randomBytes(5000) ];
        const [got2, bin2] = await exchange(ws, () => {
            ws.send(parts[0], {fin : false, binary : true});
            ws.send(parts[1], {fin : true, binary : true});
        });
        report(same(got2, bin2, Buffer.concat(parts)), `${label}: fragmented binary`);
    } catch (e) {
        report(false, `${label}: fragmented`, e.message);
    }
    const code = await withTimeout(new Promise((res) => {
                                       ws.once('close', (c) => res(c));
                                       ws.close(1000);
                                   }),
                                   'close');
    report(code === 1000, `${label}: close handshake`, String(code));
}

async function againstOurServer(extra, label)
{
    const port = await freePort();
    const child =
        spawn(path.join(BIN, 'echo_server'),
              [ '--port', String(port), '--max-message', String(17 * MiB), '--deflate', ...extra ],
              {stdio : [ 'ignore', 'ignore', 'pipe' ]});
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    try {
        if (!(await waitListening(port, child))) {
            report(false, `server ${label}: starts`, err);
            return;
        }
        await clientRun(port, true, `server ${label}, takeover`);
        await clientRun(port, false, `server ${label}, no takeover`);
    } catch (e) {
        report(false, `server ${label}`, e.message);
    } finally {
        const exited = new Promise((res) => child.once('exit', (c) => res(c)));
        child.kill('SIGTERM');
        const code = await withTimeout(exited, 'server exit').catch(() => {
            child.kill('SIGKILL');
            return -1;
        });
        report(code === 0, `server ${label}: exit status 0 after SIGTERM`,
               `${code} ${err.slice(-800)}`);
    }
}

// ---- a ws server against our client ----
async function againstOurClient(takeover)
{
    const label = `client, ${takeover ? 'takeover' : 'no takeover'}`;
    const wss = new WebSocket.Server({
        host : '127.0.0.1',
        port : 0,
        maxPayload : 0,
        perMessageDeflate : {
            threshold : 0,
            serverNoContextTakeover : !takeover,
            clientNoContextTakeover : !takeover
        },
    });
    await new Promise((res) => wss.once('listening', res));
    const port = wss.address().port;
    const served = new Promise((resolve) => {
        wss.once('connection', async (ws) => {
            const results = [];
            results.push(
                [ ws.extensions.startsWith('permessage-deflate'), 'negotiated', ws.extensions ]);
            for (const [name, m] of messages()) {
                try {
                    const [got, bin] =
                        await exchange(ws, () => ws.send(m, {binary : typeof m !== 'string'}));
                    results.push([ same(got, bin, m), name, '' ]);
                } catch (e) {
                    results.push([ false, name, e.message ]);
                }
            }
            try {
                const [got, bin] = await exchange(ws, () => {
                    ws.send('frag', {fin : false});
                    ws.send('ment', {fin : false});
                    ws.send('ed', {fin : true});
                });
                results.push([ same(got, bin, 'fragmented'), 'fragmented', '' ]);
            } catch (e) {
                results.push([ false, 'fragmented', e.message ]);
            }
            ws.close(1000);
            resolve(results);
        });
    });
    const child =
        spawn(path.join(BIN, 'echo_client'), [ '--echo', '--deflate', `ws://127.0.0.1:${port}/` ],
              {stdio : [ 'ignore', 'ignore', 'pipe' ]});
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((res) => child.once('exit', (c) => res(c)));
    try {
        const results = await withTimeout(served, 'session');
        for (const [ok, name, detail] of results)
            report(ok, `${label}: ${name}`, detail);
        const code = await withTimeout(exited, 'echo_client exit');
        report(code === 0, `${label}: echo_client exits 0 after the server's close`,
               `${code} ${err.slice(-800)}`);
    } catch (e) {
        report(false, label, e.message);
        child.kill('SIGKILL');
    }
    await new Promise((res) => wss.close(res));
}

(async () => {
    const hard = setTimeout(() => {
        console.log('hard time limit reached');
        console.log(`${passed} passed, ${failed + 1} failed`);
        process.exit(1);
    }, 500000);
    for (const [extra, label] of [[ [], 'pool' ], [ [ '--threads', '0' ], 'inline' ],
                                  [ [ '--deflate-shared' ], 'shared' ]])
        await againstOurServer(extra, label);
    await againstOurClient(true);
    await againstOurClient(false);
    clearTimeout(hard);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
})();
