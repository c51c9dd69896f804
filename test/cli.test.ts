import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseCli } from '../src/cli.ts';
import { ConfigError, defaults } from '../src/config.ts';

describe('command line', () => {
  it('applies defaults: webapps ./webapps, port 8080 on 127.0.0.1, 128 MB, 30 minute sessions', () => {
    const { config, supervise, help } = parseCli([], {});
    assert.equal(config.webappsDir, path.resolve('webapps'));
    assert.equal(config.stateDir, path.resolve('.tandem'));
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.memoryLimitMb, 128);
    assert.equal(config.sessionTimeoutMinutes, 30);
    assert.equal(config.adminPort, defaults.adminPort);
    assert.equal(supervise, true);
    assert.equal(help, false);
  });

  it('parses every documented flag', () => {
    const { config, supervise } = parseCli(
      ['--webapps', '/srv/apps', '--port', '0', '--host', '0.0.0.0', '--memory-limit', '64', '--session-timeout', '5', '--no-outbound-fetch', '--undeploy-old-versions', '--session-store', 'redis://127.0.0.1:6379/2', '--no-supervisor'],
      { TANDEM_ADMIN_TOKEN: 'a-long-enough-admin-token' },
    );
    assert.equal(config.webappsDir, '/srv/apps');
    assert.equal(config.stateDir, '/srv/.tandem');
    assert.equal(config.port, 0);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.memoryLimitMb, 64);
    assert.equal(config.sessionTimeoutMinutes, 5);
    assert.equal(config.outboundFetch, false);
    assert.equal(config.undeployOldVersions, true);
    assert.equal(config.sessionStore, 'redis://127.0.0.1:6379/2');
    assert.equal(config.adminToken, 'a-long-enough-admin-token');
    assert.equal(supervise, false);
  });

  it('refuses bad values with a message naming the option', () => {
    assert.throws(() => parseCli(['--port', 'eighty'], {}), (e: unknown) => e instanceof ConfigError && /--port.*expected a number/.test(e.message));
    assert.throws(() => parseCli(['--port', '70000'], {}), /--port: expected a port number/);
    assert.throws(() => parseCli(['--memory-limit', '2'], {}), /--memory-limit/);
    assert.throws(() => parseCli(['--session-store', 'postgres://x'], {}), /--session-store/);
    assert.throws(() => parseCli(['--frobnicate'], {}), /Unknown option '--frobnicate'.*see --help/);
    assert.throws(() => parseCli([], { TANDEM_ADMIN_TOKEN: 'short' }), /TANDEM_ADMIN_TOKEN/);
  });
});
