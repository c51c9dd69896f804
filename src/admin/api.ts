// The admin JSON API behind every button of the page:
//   GET  /api/apps                                        everything the page shows (AdminSnapshot)
//   POST /api/apps/{app}/versions/{version}/{action}      disable | enable | undeploy | expire-sessions | redeploy
//   POST /api/retired/{fileName}/restore                  moves a retired bundle back and deploys it
// Path segments are URL-decoded (app names may hold '#'); `_` names a version-less deployment.
// Authentication and CSRF are the server's job: a request reaching here is allowed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeployedVersion } from '../apps/registry.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sendError, sendJson } from './reply.ts';
import { takeSnapshot, type SnapshotSources } from './snapshot.ts';

export const versionActions = ['disable', 'enable', 'undeploy', 'expire-sessions', 'redeploy'] as const;
export type VersionAction = (typeof versionActions)[number];

export interface AdminApiOptions extends SnapshotSources {
  readonly logger: Logger;
}

export class AdminApi {
  readonly #o: AdminApiOptions;

  constructor(options: AdminApiOptions) {
    this.#o = options;
  }

  /** Handles a request whose path starts with /api/ (except the event stream). */
  async handle(req: IncomingMessage, res: ServerResponse, segments: readonly string[]): Promise<void> {
    const [, resource, ...rest] = segments; // segments[0] === 'api'
    if (resource === 'apps' && rest.length === 0) {
      if (req.method !== 'GET') return sendError(res, 405, 'use GET');
      return sendJson(res, 200, await takeSnapshot(this.#o));
    }
    if (resource === 'apps' && rest.length === 4 && rest[1] === 'versions') {
      if (req.method !== 'POST') return sendError(res, 405, 'use POST');
      return this.#versionAction(res, rest[0]!, rest[2]!, rest[3]!);
    }
    if (resource === 'retired' && rest.length === 2 && rest[1] === 'restore') {
      if (req.method !== 'POST') return sendError(res, 405, 'use POST');
      return this.#restore(res, rest[0]!);
    }
    sendError(res, 404, 'no such API route');
  }

  async #versionAction(res: ServerResponse, appName: string, versionSegment: string, action: string): Promise<void> {
    const app = this.#o.registry.app(appName);
    if (app === undefined) return sendError(res, 404, `no app named ${appName}`);
    const version = app.find(versionSegment) ?? (versionSegment === '_' ? app.find('') : undefined);
    if (version === undefined) return sendError(res, 404, `${appName} has no version ${versionSegment}`);
    if (!isVersionAction(action)) return sendError(res, 400, `unknown action ${action}; expected one of ${versionActions.join(', ')}`);
    try {
      const result = await this.#run(version, action);
      this.#o.logger.info({ app: app.name, version: version.label, action }, 'admin action');
      sendJson(res, 200, { ok: true, app: app.name, version: version.version, action, ...result });
    } catch (err) {
      this.#o.logger.warn({ app: app.name, version: version.label, action, err: describeError(err) }, 'admin action failed');
      sendError(res, 409, describeError(err));
    }
  }

  async #run(version: DeployedVersion, action: VersionAction): Promise<Record<string, unknown>> {
    const { deployer, sessions } = this.#o;
    switch (action) {
      case 'disable':
      case 'enable':
        deployer.setDisabled(version, action === 'disable');
        return {};
      case 'undeploy':
        return { retired: (await deployer.retire(version)).split(/[\\/]/).pop() };
      case 'expire-sessions':
        return { expired: await sessions.expireVersion(version.app.name, version.key) };
      case 'redeploy':
        await deployer.redeploy(version);
        return { state: version.state, error: version.error };
    }
  }

  async #restore(res: ServerResponse, fileName: string): Promise<void> {
    const { deployer } = this.#o;
    if (!(await deployer.retired()).includes(fileName)) return sendError(res, 404, `no retired bundle named ${fileName}`);
    try {
      await deployer.restore(fileName);
      this.#o.logger.info({ source: fileName, action: 'restore' }, 'admin action');
      sendJson(res, 200, { ok: true, restored: fileName });
    } catch (err) {
      this.#o.logger.warn({ source: fileName, action: 'restore', err: describeError(err) }, 'admin action failed');
      sendError(res, 409, describeError(err));
    }
  }
}

function isVersionAction(action: string): action is VersionAction {
  return (versionActions as readonly string[]).includes(action);
}
