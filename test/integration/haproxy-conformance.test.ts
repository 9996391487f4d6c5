/**
 * The driver conformance suite against a real HAProxy on loopback (three app processes in backend `app`, one more
 * backend beside it), the driver made through the registry from a `haproxy://` URL as the action makes it.
 */
import { driverConformance, driverFromUrl, selectors } from '../conformance/driver-conformance.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startHaproxy, type HaproxyInstance } from '../helpers/haproxy.js';

let haproxy: HaproxyInstance | undefined;
let fleet: Fleet | undefined;

async function send(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    await response.text();
  }
}

driverConformance('haproxy', {
  async start() {
    fleet = await startFleet(4, 'v1');
    const [web1, web2, spare, other] = fleet.ports as [number, number, number, number];
    haproxy = await startHaproxy({
      servers: [
        { name: 'web1', port: web1 },
        { name: 'web2', port: web2 },
        { name: 'spare', port: spare, options: 'check weight 0' },
      ],
      sections: `backend other\n    server x1 127.0.0.1:${other} weight 10\n`,
    });
    const driver = driverFromUrl(`haproxy://127.0.0.1:${haproxy.adminPort}`);
    // Wait until HAProxy's own checks passed, so the servers in traffic take it (bounded).
    for (let tries = 0; tries < 100; tries++) {
      const servers = await driver.servers(selectors('app/*'));
      if (servers.every((s) => s.check?.settled)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const address = (port: number) => `127.0.0.1:${port}`;
    const frontend = haproxy.frontendPort;
    return {
      driver,
      servers: [
        { id: 'app/web1', address: address(web1), weight: 100, admin: 'ready' },
        { id: 'app/web2', address: address(web2), weight: 100, admin: 'ready' },
        { id: 'app/spare', address: address(spare), weight: 0, admin: 'ready' },
      ],
      traffic: (count) => send(frontend, count),
    };
  },
  async stop() {
    await haproxy?.stop();
    fleet?.stopAll();
  },
});
