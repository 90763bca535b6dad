// The OpenAPI document of the HTTP API, generated from the routes' zod schemas (route-schemas.ts) by zod 4's
// toJSONSchema as @fastify/swagger collects the routes, and served with Swagger UI at /docs (the document itself
// at /openapi.json). Routes without a summary (the dashboard's pages, bull-board, /backlog) are left out.

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jobRecordSchema, jobSpecSchema, streamSpecSchema, streamViewSchema } from "@vdet/protocol";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { errorBodySchema } from "./route-schemas.ts";

/** Schemas documented once under components/schemas and referenced from the routes. */
const COMPONENTS = new Map<z.ZodType, string>([
  [jobSpecSchema, "JobSpec"],
  [jobRecordSchema, "Job"],
  [streamSpecSchema, "StreamSpec"],
  [streamViewSchema, "Stream"],
  [errorBodySchema, "Error"],
]);

const isZod = (value: unknown): value is z.ZodType => value instanceof z.ZodType;

/**
 * JSON Schema (2020-12, as OpenAPI 3.1 uses) of a zod schema: requests as they are sent ("input": defaults
 * optional), responses as they are built ("output"). A component (unless `root`, its own definition) and the
 * components inside it become references.
 */
export function jsonSchema(schema: z.ZodType, io: "input" | "output", root = false): Record<string, unknown> {
  const component = COMPONENTS.get(schema);
  if (component !== undefined && !root) return { $ref: `#/components/schemas/${component}` };
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema: out }) => {
      const node: unknown = zodSchema;
      const name = COMPONENTS.get(node as z.ZodType);
      if (name === undefined || node === schema) return;
      for (const key of Object.keys(out)) delete out[key];
      out.$ref = `#/components/schemas/${name}`;
    },
  }) as Record<string, unknown>;
  return rest;
}

/** A route's schema for the document: each zod part as JSON Schema. */
function documented(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...schema };
  for (const part of ["params", "querystring", "body"] as const) {
    if (isZod(schema[part])) out[part] = jsonSchema(schema[part], "input");
  }
  if (schema.response) {
    out.response = Object.fromEntries(
      Object.entries(schema.response as Record<string, unknown>).map(([status, response]) => [
        status,
        isZod(response) ? jsonSchema(response, "output") : response,
      ]),
    );
  }
  return out;
}

export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "vdet API",
        version: "0.1.0",
        description:
          "Submit video jobs, follow their progress, read their results. Every route except /healthz, /readyz and " +
          "/docs needs `Authorization: Bearer <token>` (a browser: open any page once with `?token=<token>`).",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        schemas: Object.fromEntries(
          [...COMPONENTS].map(([schema, name]) => [
            name,
            jsonSchema(schema, schema === jobRecordSchema ? "output" : "input", true),
          ]),
        ),
      },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url }) =>
      schema && "summary" in schema
        ? { schema: documented(schema as Record<string, unknown>) as never, url }
        : { schema: { hide: true }, url },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
