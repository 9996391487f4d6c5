/**
 * The driver conformance suite against a real nginx on loopback (its own prefix, upstreams file and JSON access
 * log), the driver made through the registry from an `nginx+file://` URL and the nginx-* inputs.
 */
import { driverConformance, driverFromUrl } from '../conformance/driver-conformance.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { startNginx, type NginxInstance } from '../helpers/nginx.js';

let nginx: NginxInstance | undefined;
let fleet: Fleet | undefined;

async function send(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    await response.text();
  }
}

driverConformance('nginx', {
  async start() {
    fleet = await startFleet(3, 'v1');
    const [web1, web2, spare] = fleet.ports as [number, number, number];
    nginx = await startNginx([
      { name: 'web1', port: web1 },
      { name: 'web2', port: web2 },
      // An idle server as a user writes it: down, no weight of its own.
      { name: 'spare', port: spare, down: true },
    ]);
    const driver = driverFromUrl(nginx.inputs['load-balancer'] ?? '', nginx.inputs);
    const address = (port: number) => `127.0.0.1:${port}`;
    const port = nginx.port;
    return {
      driver,
      servers: [
        { id: 'app/web1', address: address(web1), weight: 100, admin: 'ready' },
        { id: 'app/web2', address: address(web2), weight: 100, admin: 'ready' },
        { id: 'app/spare', address: address(spare), weight: 0, admin: 'ready' },
      ],
      traffic: (count) => send(port, count),
    };
  },
  async stop() {
    await nginx?.stop();
    fleet?.stopAll();
  },
});
