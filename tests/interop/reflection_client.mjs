// gRPC server reflection as grpc's own Node packages speak it: @grpc/grpc-js for the call and
// the protocol's definition bundled with @grpc/reflection (grpc.reflection.v1alpha), decoded with
// protobufjs's descriptor extension. Used by tests/e2e/tokens_e2etest.cc.
//
//   node reflection_client.mjs HOST:PORT TOKEN
//
// Prints one JSON line: the services listed, the file defining hookd.v1.AppService with its
// services and methods, and the status of the same stream opened without a token.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const descriptor = require('protobufjs/ext/descriptor');

const [address, token] = process.argv.slice(2);
const protoPath = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')),
                            'build/proto/grpc/reflection/v1alpha/reflection.proto');
const definition = protoLoader.loadSync(protoPath, { keepCase: true, defaults: true });
const { ServerReflection } = grpc.loadPackageDefinition(definition).grpc.reflection.v1alpha;
const client = new ServerReflection(address, grpc.credentials.createInsecure());

// Sends `requests` on one stream with `bearer` (none when empty); resolves with the responses,
// or with the stream's error code.
function ask(bearer, requests) {
  return new Promise((resolve) => {
    const metadata = new grpc.Metadata();
    if (bearer) metadata.set('authorization', `Bearer ${bearer}`);
    const call = client.ServerReflectionInfo(metadata);
    const responses = [];
    call.on('data', (r) => {
      responses.push(r);
      if (responses.length === requests.length) call.end();
    });
    call.on('error', (e) => resolve({ code: e.code }));
    call.on('end', () => resolve({ code: 0, responses }));
    for (const r of requests) call.write(r);
  });
}

const answered = await ask(token, [
  { list_services: '' },
  { file_containing_symbol: 'hookd.v1.AppService' },
  { file_containing_symbol: 'hookd.v1.NoSuchThing' },
]);
const out = { code: answered.code };
if (answered.code === 0) {
  const [list, file, missing] = answered.responses;
  out.services = list.list_services_response.service.map((s) => s.name);
  const files = file.file_descriptor_response.file_descriptor_proto.map((bytes) =>
    descriptor.FileDescriptorProto.decode(bytes));
  out.first_file = files[0].name;
  out.files = files.map((f) => f.name);
  out.app_service_methods = files[0].service
    .filter((s) => s.name === 'AppService')
    .flatMap((s) => s.method.map((m) => m.name));
  out.missing_error_code = missing.error_response ? missing.error_response.error_code : null;
}
out.without_token_code = (await ask('', [{ list_services: '' }])).code;
out.wrong_token_code = (await ask('wrong-token', [{ list_services: '' }])).code;
console.log(JSON.stringify(out));
client.close();
