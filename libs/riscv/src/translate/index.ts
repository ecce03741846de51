// The translating engine (issue 18): hot guest code compiled to WebAssembly or JavaScript,
// beside the interpreter that stays the reference. README.md, "The translate engine".
export { COMPILE_BATCH, executeTranslated, HOT_ENTRIES } from './run.js';
export { TranslationCache } from './cache.js';
export type { BlockFn, TranslationStats } from './cache.js';
export { MAX_INSNS, compileBlock, scanBlock } from './compile.js';

/** Default bound of the code cache, in compiled blocks. */
export const DEFAULT_MAX_BLOCKS = 16384;
