/** The driver conformance suite against the in-memory fake, made through the registry from `fake://conformance`. */
import { driverConformance, driverFromUrl } from '../conformance/driver-conformance.js';
import { createdFake, defineFake } from '../helpers/fake-driver.js';

const SERVERS = [
  { id: 'app/web1', address: '10.0.0.1:8080', weight: 100, admin: 'ready' },
  { id: 'app/web2', address: '10.0.0.2:8080', weight: 100, admin: 'ready' },
  { id: 'app/spare', address: '10.0.0.3:8080', weight: 0, admin: 'ready' },
  { id: 'other/x1', address: '10.0.1.1:80', weight: 10, admin: 'ready' },
] as const;

driverConformance('fake', {
  async start() {
    defineFake('conformance', { servers: SERVERS });
    const driver = driverFromUrl('fake://conformance');
    const fake = createdFake('conformance');
    if (!fake) throw new Error('the registry did not create the fake');
    return {
      driver,
      servers: SERVERS,
      traffic: async (count) => fake.serve(count),
    };
  },
  async stop() {},
});

driverConformance('fake with native split and a weight range of 1-10', {
  async start() {
    defineFake('conformance-split', {
      servers: SERVERS.map((s) => ({ ...s, weight: s.weight ? 10 : 1 })),
      nativeSplit: true,
      weights: { min: 1, max: 10 },
    });
    const driver = driverFromUrl('fake://conformance-split');
    const fake = createdFake('conformance-split');
    if (!fake) throw new Error('the registry did not create the fake');
    await fake.split?.([
      { pool: 'a', servers: ['app/web1', 'app/web2'], percent: 100 },
      { pool: 'b', servers: ['app/spare'], percent: 0 },
    ]);
    return {
      driver,
      servers: SERVERS.map((s) => ({ ...s, weight: s.weight ? 10 : 1 })),
      traffic: async (count) => fake.serve(count),
    };
  },
  async stop() {},
});
