import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The dashboard's static files. `npm run build` copies them to dist/ui (scripts/copy-ui-assets.js): our script and
 * stylesheet from src/ui, Chart.js from node_modules. Nothing is loaded from a CDN.
 */

export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** dist/ui next to dist/adapters/http/dashboard (or src/ui when run from the sources, e.g. in unit tests). */
const UI_DIR = path.resolve(__dirname, '../../../ui');

function chartJsFromPackage(): string[] {
  try {
    return [path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js')];
  } catch {
    return [];
  }
}

const FILES: Record<string, { contentType: string; candidates: () => string[] }> = {
  'dashboard.js': { contentType: 'text/javascript; charset=utf-8', candidates: () => [path.join(UI_DIR, 'dashboard.js')] },
  'dashboard.css': { contentType: 'text/css; charset=utf-8', candidates: () => [path.join(UI_DIR, 'dashboard.css')] },
  'chart.umd.min.js': {
    contentType: 'text/javascript; charset=utf-8',
    candidates: () => [path.join(UI_DIR, 'vendor', 'chart.umd.min.js'), ...chartJsFromPackage()],
  },
};

const cache = new Map<string, Asset | null>();

/** The named asset, read once; null when it is not one of ours or is missing from the build. */
export function loadAsset(name: string): Asset | null {
  if (!Object.prototype.hasOwnProperty.call(FILES, name)) return null;
  if (cache.has(name)) return cache.get(name)!;
  const spec = FILES[name];
  let asset: Asset | null = null;
  for (const file of spec.candidates()) {
    try {
      // The source map comment would make browsers ask for a file we do not serve.
      const text = readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
      const body = Buffer.from(text);
      asset = { body, contentType: spec.contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
      break;
    } catch {
      // try the next place
    }
  }
  cache.set(name, asset);
  return asset;
}

/** Cache-busting suffix for asset URLs, so a new build is picked up at once. */
export function assetUrl(name: string): string {
  const a = loadAsset(name);
  return `/ui/static/${name}${a ? `?v=${encodeURIComponent(a.etag.slice(1, 11))}` : ''}`;
}
