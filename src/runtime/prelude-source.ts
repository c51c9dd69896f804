// Bundles in-isolate JavaScript (the prelude) into one classic script for isolated-vm.

import { buildSync, stop } from 'esbuild';

/**
 * Bundles `entryFile` and everything it imports into one minified IIFE script. Dynamic import() and
 * top-level await are refused at build time: isolated-vm cannot run either correctly.
 */
export function bundlePrelude(entryFile: string): string {
  let result;
  try {
    result = buildSync({
      entryPoints: [entryFile],
      bundle: true,
      format: 'iife',
      platform: 'neutral',
      target: 'es2022',
      minify: true,
      write: false,
      mainFields: ['module', 'main'],
      supported: { 'dynamic-import': false, 'top-level-await': false },
      logLevel: 'silent',
    });
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(`Could not bundle the isolate prelude from ${entryFile}: ${detail}. Fix the prelude source and restart.`, { cause: err });
  }
  // buildSync leaves esbuild's service process running (~26 MB RSS); a host bundles once, so end it.
  void stop();
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error(`Could not bundle the isolate prelude from ${entryFile}: esbuild produced no output.`);
  return file.text;
}
