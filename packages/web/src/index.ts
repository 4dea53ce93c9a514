/**
 * @coffer/web is an application, not a library: its entry is `index.html` / `src/main.tsx`,
 * built by Vite into `packages/web/dist`. This module only names what other packages may rely on.
 */

/** The build output folder, relative to this package's root (served by `coffer serve` at `/`). */
export const WEB_DIST_DIR = 'dist';
