/** The package's version, as package.json says (bundled). */
import pkg from '../../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
