// Verifies one webhook with the standardwebhooks npm package, an implementation nobody here wrote (NodeVerifier.cs runs it).
// Input on stdin: one JSON object {secret, headers: {name: value}, body}. Prints "verified" and exits 0, or the error and exits 1.
import { Webhook } from "standardwebhooks";

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) {
  input += chunk;
}

try {
  const { secret, headers, body } = JSON.parse(input);
  new Webhook(secret).verify(body, headers);
  console.log("verified");
} catch (error) {
  console.log(`${error.name}: ${error.message}`);
  process.exitCode = 1;
}
