import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RuntimeApi, refusal, splitReplies } from '../../src/lb/haproxy/runtime-api.js';
import { adminState, parseServersState, parseStatCsv } from '../../src/lb/haproxy/stat.js';

// Recorded from HAProxy 2.6.12 in prompt mode with `set severity-output number`.
const RECORDED =
  '\n> \n> [3]: No such server.\n\n> \n> 10 (initial 0)\n\n> [3]: Require <weight> or <weight%>.\n\n> \n> ';
const COMMANDS = [
  'set server app/nope weight 5',
  'set server app/blue2 weight 10',
  'get weight app/blue2',
  'set server app/blue2 weight',
  'set server app/blue2 state maint',
];

describe('Runtime API replies', () => {
  it('splits one reply per command, including errors without a blank-line terminator', () => {
    const replies = splitReplies(RECORDED, COMMANDS);
    expect(replies.map((r) => r.text)).toEqual([
      '[3]: No such server.',
      '',
      '10 (initial 0)',
      '[3]: Require <weight> or <weight%>.',
      '',
    ]);
    expect(replies.map(refusal)).toEqual([
      'No such server.',
      undefined,
      '10 (initial 0)',
      'Require <weight> or <weight%>.',
      undefined,
    ]);
  });

  it('treats an unterminated error as its own reply', () => {
    const replies = splitReplies('\n> \n> Empty weight string\n> \n> ', [
      'set weight app/x ',
      'set server app/x state ready',
    ]);
    expect(replies.map(refusal)).toEqual(['Empty weight string', undefined]);
  });

  it('notices a connection closed before every reply arrived', () => {
    expect(() => splitReplies('\n> \n> \n> ', COMMANDS)).toThrow(/closed the connection after 1 of 5 replies/);
  });
});

describe('show stat and show servers state', () => {
  const stat = `# pxname,svname,qcur,scur,status,weight,check_status,check_rise,check_fall,check_health,addr,hrsp_5xx
app,blue1,0,3,UP,100,L7OK,2,2,3,127.0.0.1:18101,4
app,nock,0,0,no check,100,,,,,127.0.0.1:18103,0
app,BACKEND,0,3,UP,200,,,,,,4
`;
  it('reads columns by header name, wherever they are', () => {
    const rows = parseStatCsv(stat);
    expect(rows[0]).toMatchObject({
      pxname: 'app',
      svname: 'blue1',
      scur: '3',
      addr: '127.0.0.1:18101',
      hrsp_5xx: '4',
    });
    expect(rows[1]?.check_rise).toBe('');
  });

  it('reads show servers state and its admin bits', () => {
    const rows = parseServersState(`1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight
3 app 2 blue2 127.0.0.1 0 8 0
`);
    expect(rows[0]).toMatchObject({ be_name: 'app', srv_name: 'blue2', srv_admin_state: '8', srv_uweight: '0' });
    expect([adminState(0), adminState(8), adminState(1), adminState(9), adminState(0x20)]).toEqual([
      'ready',
      'drain',
      'maint',
      'maint',
      'maint',
    ]);
  });
});

describe('Runtime API failures', () => {
  /** A loopback port nobody listens on: bound once, then closed. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  it.each([
    [0, 'after 1 attempt:'],
    [2, 'after 3 attempts:'],
  ])('with %i retries, the message counts the attempts made (%s)', async (retries, counted) => {
    const port = await closedPort();
    const api = new RuntimeApi({
      transport: { type: 'tcp', host: '127.0.0.1', port },
      timeoutMs: 1000,
      retries,
      retryDelayMs: 1,
    });
    await expect(api.run(['show info'])).rejects.toThrow(
      `HAProxy Runtime API failed ${counted} cannot talk to 127.0.0.1:${port}: ECONNREFUSED`,
    );
    expect(api.roundTrips).toBe(retries + 1);
  });
});

describe('reads carried on a round trip (run with then)', () => {
  /** A prompt-mode Runtime API stand-in: each command answered `N <command>`, N counting every answer it gave. */
  async function numbering(): Promise<{ port: number; close: () => Promise<void> }> {
    let n = 0;
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('end', () => {
        const commands = text.split('\n').slice(2, -2);
        socket.end(`\n> \n> ${commands.map((c) => `${++n} ${c}\n\n> `).join('')}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  it('answers the carried read once from the write round trip, then from HAProxy again; a write makes it stale', async () => {
    const lb = await numbering();
    const api = new RuntimeApi({
      transport: { type: 'tcp', host: '127.0.0.1', port: lb.port },
      timeoutMs: 1000,
      retries: 0,
      retryDelayMs: 1,
    });
    const read = ['show stat app 4 1', 'show info'];
    const [set] = await api.run(['set server app/a state drain'], [read]);
    expect(set?.text).toBe('1 set server app/a state drain');
    expect((await api.run(read)).map((r) => r.text)).toEqual(['2 show stat app 4 1', '3 show info']);
    expect(api.roundTrips).toBe(1);
    expect((await api.run(read)).map((r) => r.text)).toEqual(['4 show stat app 4 1', '5 show info']);
    expect(api.roundTrips).toBe(2);
    // Carried, then a write before it is asked: read afresh.
    await api.run(['show info'], [read]);
    await api.run(['set server app/a state ready']);
    expect((await api.run(read))[0]?.text).toBe('10 show stat app 4 1');
    await lb.close();
  });
});
