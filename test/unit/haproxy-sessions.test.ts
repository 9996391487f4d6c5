import { describe, expect, it } from 'vitest';
import { parseSessions, streamsOn } from '../../src/lb/haproxy/sessions.js';
import { describeConnections } from '../../src/engine/drain.js';

/** `show sess ID` blocks from HAProxy 2.6.12, cut to the lines read. */
function stream(id: string, server: string, status: number, backend = 'app'): string {
  return `${id}: [08/Dec/2026:00:17:21.462904] id=1 proto=tcpv4 source=127.0.0.1:59774
  flags=0x400c4a, conn_retries=0, conn_exp=<NEVER> conn_et=0x000 srv_conn=0x562d255a27f0, pend_pos=(nil) waiting=0 epoch=0
  frontend=fe (id=2 mode=http), listener=? (id=1) addr=127.0.0.1:18180
  backend=${backend} (id=3 mode=http) addr=127.0.0.1:40600
  server=${server} (id=1) addr=127.0.0.1:18101
  task=0x562d2577eed0 (state=0x00 nice=0 calls=3 rate=0 exp=0s tmask=0x1 age=1s)
  txn=0x562d2577efa0 flags=0x8000 meth=1 status=${status} req.st=MSG_TUNNEL rsp.st=MSG_TUNNEL req.f=0xcc rsp.f=0xcc
`;
}
const CLI = `0x562d25780000: [08/Dec/2026:00:17:22.000000] id=9 proto=tcpv4 source=127.0.0.1:41000
  frontend=GLOBAL (id=0 mode=tcp), listener=? (id=1) addr=127.0.0.1:18199
  backend=<NONE> (id=-1 mode=-)
  server=<NONE> (id=-1)
`;

describe('HAProxy sessions', () => {
  const text = [
    stream('0x1a', 'web1', 101),
    stream('0x2b', 'web1', 101),
    stream('0x3c', 'web1', -1),
    stream('0x4d', 'web2', 101),
    stream('0x5e', 'web1', 101, 'other'),
    CLI,
  ].join('');

  it('counts upgraded connections (status 101) apart from requests in flight, per server asked for', () => {
    const { open, webSocketStreams } = parseSessions(text, ['app/web1', 'app/web2', 'app/web3']);
    expect(open).toEqual([
      { server: 'app/web1', webSockets: 2, requests: 1 },
      { server: 'app/web2', webSockets: 1, requests: 0 },
      { server: 'app/web3', webSockets: 0, requests: 0 },
    ]);
    expect(webSocketStreams.get('app/web1')).toEqual(['0x1a', '0x2b']);
    expect(webSocketStreams.get('app/web2')).toEqual(['0x4d']);
  });

  it('names what was closed on each server, and nothing for a server with nothing open', () => {
    const { open } = parseSessions(text, ['app/web1', 'app/web2', 'app/web3']);
    expect(describeConnections(open, 'closed on {server} at drain start')).toEqual([
      '2 WebSocket connections and 1 request closed on app/web1 at drain start',
      '1 WebSocket connection closed on app/web2 at drain start',
    ]);
  });

  it("finds the streams of the servers asked for in show sess's one line per stream", () => {
    const list = [
      '0x5578a9d769f0: proto=tcpv4 src=127.0.0.1:47344 fe=fe be=app srv=web1 ts=00 epoch=0 age=1s calls=3 rate=0 cpu=0 lat=0 rq[f=8c48000h,i=0,an=00h,rx=29s,wx=,ax=] rp[f=88048202h,i=0,an=00h,rx=29s,wx=,ax=] scf=[8,0h,fd=14] scb=[8,11h,fd=17] exp=1s rc=0 c_exp=',
      '0x5578a9e92a90: proto=tcpv4 src=127.0.0.1:47368 fe=fe be=app srv=web2 ts=00 epoch=0 age=1s calls=3 rate=0 cpu=0 lat=0 rq[f=8c48000h,i=0,an=00h,rx=29s,wx=,ax=] rp[f=88048000h,i=0,an=00h,rx=29s,wx=,ax=] scf=[8,0h,fd=16] scb=[8,11h,fd=19] exp=1s rc=0 c_exp=',
      '0x5578a9e97b30: proto=tcpv4 src=127.0.0.1:36724 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 age=0s calls=2 rate=1 cpu=0 lat=0 rq[f=c0c020h,i=0,an=00h,rx=,wx=,ax=] rp[f=80008002h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd=20] scb=[8,1h,fd=-1] exp=10s rc=0 c_exp=',
    ].join('\n');
    expect(streamsOn(list, ['app/web1'])).toEqual(['0x5578a9d769f0']);
    expect(streamsOn(list, ['app/web1', 'app/web2'])).toEqual(['0x5578a9d769f0', '0x5578a9e92a90']);
    expect(streamsOn(list, ['app/web3'])).toEqual([]);
  });
});
