// The demo app, version 1.1.0: the same app with a new look; shows which version serves you and counts your visits.
// Every user with a session stays on the version that created it; new users get the highest.
const page = (env, visits, sessionNote) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tandem demo ${env.version}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}
.v{font-size:2.5em;font-weight:700;color:#16a34a}</style></head>
<body><h1>tandem demo</h1>
<p>You are served by version <span class="v">${env.version}</span></p>
<p>Visits in this session: <strong>${visits}</strong></p>
<p>${sessionNote}</p>
<p><a href="${env.contextPath}/">Reload</a> · <a href="${env.contextPath}/logout">Log off</a> (invalidates your session; your next visit starts a new one on the newest version)</p>
</body></html>`;

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === `${env.contextPath}/logout`) {
      ctx.session?.invalidate();
      return new Response(null, { status: 303, headers: { location: `${env.contextPath}/` } });
    }
    if (url.pathname === `${env.contextPath}/api/visits`) {
      const session = ctx.createSession();
      const visits = (session.get('visits') ?? 0) + 1;
      session.set('visits', visits);
      return Response.json({ version: env.version, visits });
    }
    const session = ctx.createSession();
    const visits = (session.get('visits') ?? 0) + 1;
    session.set('visits', visits);
    return new Response(page(env, visits, 'This is the new version. Delete webapps/demo##1.1.0 to roll back: your session moves to 1.0.0 with its visits intact.'), {
      headers: { 'content-type': 'text/html; charset=utf-8' },
    });
  },
};
