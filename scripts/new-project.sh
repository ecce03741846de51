#!/usr/bin/env bash
# Lays out a project with the repo's common shape: package.json (npm workspace + nx
# targets and tags), tsconfig.json (typecheck incl. specs), tsconfig.lib.json (build).
# usage: scripts/new-project.sh <libs|services> <dir-name> <scope> [deps...]
set -euo pipefail
kind=$1 name=$2 scope=$3; shift 3
dir="$kind/$name"
type=lib; [ "$kind" = services ] && type=service
mkdir -p "$dir/src"
deps=""
for d in "$@"; do deps="$deps\"@splitvisor/$d\": \"*\","; done
deps="${deps%,}"
cat > "$dir/package.json" <<JSON
{
  "name": "@splitvisor/$name",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "exports": { ".": { "types": "./dist/index.d.ts", "default": "./dist/index.js" } },
  "dependencies": { $deps },
  "nx": {
    "tags": ["scope:$scope", "type:$type"],
    "targets": {
      "build": { "command": "tsc -p tsconfig.lib.json", "options": { "cwd": "{projectRoot}" } },
      "typecheck": { "command": "tsc -p tsconfig.json --noEmit", "options": { "cwd": "{projectRoot}" } },
      "lint": { "command": "eslint {projectRoot}/src", "options": { "cwd": "{workspaceRoot}" } },
      "test": { "command": "vitest run", "options": { "cwd": "{projectRoot}" } }
    }
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "noEmit": true, "tsBuildInfoFile": "dist/.typecheck.tsbuildinfo" },
  "include": ["src/**/*.ts"]
}
JSON
cat > "$dir/tsconfig.lib.json" <<JSON
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "tsBuildInfoFile": "dist/.tsbuildinfo" },
  "include": ["src/**/*.ts"],
  "exclude": ["src/**/*.spec.ts", "src/**/*.test-util.ts"]
}
JSON
echo "laid out $dir"
