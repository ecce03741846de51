// One lint config for the whole repo. The module-boundary rule is the architecture:
// a service never imports another service, libs never import services, and a scoped
// project may only import its own scope or shared libs (DESIGN.md, "Shape of the code").
// Layout is prettier's, checked here too (the last entry).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';
import globals from 'globals';
import prettierRecommended from 'eslint-plugin-prettier/recommended';

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/generated/**', 'guests/**', '.nx/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:service'] },
            // An app (splitvisor exec) composes libs in one process; nothing imports it.
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            { sourceTag: 'scope:cpu', onlyDependOnLibsWithTags: ['scope:cpu', 'scope:shared'] },
            { sourceTag: 'scope:mmu', onlyDependOnLibsWithTags: ['scope:mmu', 'scope:shared'] },
            { sourceTag: 'scope:io', onlyDependOnLibsWithTags: ['scope:io', 'scope:shared'] },
            { sourceTag: 'scope:dom0', onlyDependOnLibsWithTags: ['scope:dom0', 'scope:shared'] },
            // exec is the whole machine: the cpu's parts and io-backend's devices together.
            { sourceTag: 'scope:exec', onlyDependOnLibsWithTags: ['scope:cpu', 'scope:io', 'scope:shared'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: globals.node },
  },
  // The formatter, run by lint: TypeScript is laid out by prettier (.prettierrc.json), and a
  // file that is not fails the lint; `npm run format` lays it out.
  { ...prettierRecommended, files: ['**/*.ts'] },
];
