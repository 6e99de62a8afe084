#!/usr/bin/env node
// Validates the agent's GraphQL documents against the schema that @mysten/sui ships
// (src/graphql/generated/schema.graphql), with graphql-js.
//   node tests/sui/validate_graphql.mjs QUERIES.json   ({"Name": "query ...", ...})
// Prints one line per problem; exit 0 when every document is valid, 1 otherwise, 2 on usage.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peers = createRequire(path.resolve(here, '..', 'peers', 'package.json'));
if (process.argv.length !== 3) {
	process.stderr.write('usage: validate_graphql.mjs QUERIES.json\n');
	process.exit(2);
}
const { buildSchema, parse, validate } = await import(pathToFileURL(peers.resolve('graphql')).href);
const schemaFile = path.resolve(here, '..', 'peers', 'node_modules', '@mysten', 'sui', 'src', 'graphql', 'generated', 'schema.graphql');
const schema = buildSchema(fs.readFileSync(schemaFile, 'utf8'));
const queries = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let bad = 0;
for (const [name, text] of Object.entries(queries)) {
	let errors;
	try {
		errors = validate(schema, parse(text));
	} catch (e) {
		errors = [e];
	}
	for (const e of errors) {
		bad++;
		process.stdout.write(`${name}: ${e.message}\n`);
	}
}
process.stdout.write(`${Object.keys(queries).length} documents checked against ${path.relative(process.cwd(), schemaFile)}, ${bad} problem(s)\n`);
process.exit(bad ? 1 : 0);
