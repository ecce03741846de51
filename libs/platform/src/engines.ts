// How a hart runs guest code (VM config `cpu: { engine }`, cpu StartVm `engine`,
// `splitvisor exec --engine`): the riscv library implements both; the names live here so
// dom0 can check a config without depending on the hart.

/** 'interp': the interpreter (the reference). 'translate' (the default): hot blocks
 *  compiled to WebAssembly (or JavaScript where RAM is a plain buffer), the interpreter for
 *  the rest. */
export const ENGINES = ['interp', 'translate'] as const;
export type Engine = (typeof ENGINES)[number];
export const DEFAULT_ENGINE: Engine = 'translate';
