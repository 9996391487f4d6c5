/** The registry takes a new driver the way it lists the real ones: the fake, registered from a test. */
import { describe, expect, it } from 'vitest';
import { readInputs } from '../../src/inputs.js';
import { createDriver, driverModule, parseLoadBalancer, registerDriver, schemesWith } from '../../src/lb/registry.js';
import { InputError } from '../../src/model/errors.js';
import { FakeDriver, fakeModule, useFakeDriver } from '../helpers/fake-driver.js';

const context = { sha: 'abc1234', pullRequestNumber: undefined };

function inputs(given: Record<string, string>) {
  return readInputs((name) => given[name] ?? '', context);
}

function problems(given: Record<string, string>): readonly string[] {
  try {
    inputs(given);
  } catch (error) {
    if (error instanceof InputError) return error.problems;
    throw error;
  }
  return [];
}

describe('registering a driver', () => {
  it('fake://NAME resolves to the fake module, its name carried in the transport', () => {
    expect(parseLoadBalancer('fake://x')).toEqual({
      scheme: 'fake',
      kind: 'fake',
      transport: { type: 'file', path: 'x' },
      display: 'fake://x',
    });
    expect(driverModule('fake')).toBe(fakeModule);
    expect(parseLoadBalancer('fake://')).toEqual({ error: 'fake:// needs a name: fake://NAME' });
  });

  it('is idempotent and leaves the built-in drivers as they were', () => {
    useFakeDriver();
    registerDriver(fakeModule);
    const schemes = schemesWith().split(', ');
    expect(schemes.filter((s) => s === 'fake')).toHaveLength(1);
    expect(schemes).toEqual(expect.arrayContaining(['haproxy', 'haproxy+unix', 'haproxy+ssh', 'nginx+file', 'fake']));
    expect(schemesWith('previews').split(', ')).not.toContain('fake');
    expect(parseLoadBalancer('haproxy://127.0.0.1:9999')).toMatchObject({ kind: 'haproxy' });
    expect(parseLoadBalancer('nosuch://x')).toEqual({
      error: `unknown scheme 'nosuch', expected ${schemesWith()}`,
    });
  });

  it("readInputs accepts load-balancer: fake://... and the fake's own input", () => {
    const settings = inputs({ strategy: 'rolling', targets: 'app/*', 'load-balancer': 'fake://lb' });
    expect(settings.loadBalancer).toMatchObject({ kind: 'fake', scheme: 'fake', display: 'fake://lb' });
    expect(settings.driverOptions).toEqual({ maxWeight: 256 });
    const small = inputs({
      strategy: 'rolling',
      targets: 'app/*',
      'load-balancer': 'fake://lb',
      'fake-max-weight': '10',
    });
    expect(small.driverOptions).toEqual({ maxWeight: 10 });
  });

  it("refuses the fake's bad option, other drivers' inputs, and actions it cannot serve, each naming its input", () => {
    expect(
      problems({ strategy: 'rolling', targets: 'app/*', 'load-balancer': 'fake://lb', 'fake-max-weight': 'x' }),
    ).toEqual(["fake-max-weight: 'x' is not a whole number above 0"]);
    expect(
      problems({ strategy: 'rolling', targets: 'app/*', 'load-balancer': 'fake://lb', 'nginx-pid-file': '/x.pid' }),
    ).toEqual(['nginx-pid-file: only used with load-balancer nginx+file:// or nginx+ssh://']);
    expect(problems({ action: 'preview', 'load-balancer': 'fake://lb', 'preview-address': '10.0.0.1:80' })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^load-balancer: action preview needs a load balancer that routes previews \(haproxy, haproxy\+unix, haproxy\+ssh, aws-alb\); fake:\/\/ cannot/,
        ),
      ]),
    );
  });

  it('createDriver builds the fake with the options its module parsed', () => {
    const settings = inputs({
      strategy: 'rolling',
      targets: 'app/*',
      'load-balancer': 'fake://registry-test',
      'fake-max-weight': '10',
    });
    const driver = createDriver(settings.loadBalancer, settings.driverOptions);
    expect(driver).toBeInstanceOf(FakeDriver);
    expect(driver.capabilities.weights).toEqual({ min: 0, max: 10 });
  });
});
