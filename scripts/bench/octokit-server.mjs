// GitHub's own Node webhook verifier as a baseline for ingest: @octokit/webhooks'
// createNodeMiddleware (HMAC check, JSON parse, a no-op handler), nothing stored.
//   node octokit-server.mjs PORT SECRET
import http from "node:http";
import { Webhooks, createNodeMiddleware } from "@octokit/webhooks";

const [port, secret] = process.argv.slice(2);
const webhooks = new Webhooks({ secret });
webhooks.onAny(() => {});
const middleware = createNodeMiddleware(webhooks, { path: "/webhook" });
http.createServer(middleware).listen(Number(port), "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${port}`);
});
