"""A container that honours the SageMaker contract, with behaviours the tests choose.

train: reads /opt/ml/input/config/hyperparameters.json; "behaviour" is one of
  ok        write model/model.json (hyperparameters + channel listing) and exit 0
  fail      write output/failure and exit 1
  sleep     print a line, then wait; SIGTERM -> print "terminated" and exit 0
  stubborn  print a line, then wait ignoring SIGTERM (only SIGKILL ends it)
  network   print the network interfaces the container has, exit 0
  env       print the container's environment, one `env NAME=VALUE` line each, exit 0
  rendezvous  a distributed-training handshake, as torchrun or MPI do it: every host reads
            resourceconfig.json; the first host listens on port 7777, the others connect to it
            by its host name and send theirs; the first writes model/hosts.json (who joined, and
            each host's channel files) and every host writes model/<host>.txt
  one-fails the host named by the `fail_host` hyperparameter fails; the others wait forever
  pipe      Pipe mode: read the FIFOs train_0 then train_1 and write model/pipe.json (whether
            each is a FIFO, its bytes as text)
  readonly  try to write into the train channel and beside it; model/readonly.json says what
            failed (errno names), then the job succeeds
serve: GET /ping, POST /invocations answering the model file's content, the request body and
headers (custom attributes are answered back as `seen=<value>`); a body of `hang` is never
answered (the platform's invocation timeout ends it). POST /invocations-response-stream answers
each space-separated word of the body as its own chunk (chunked transfer encoding, `word\n`),
with the request's Accept as Content-Type; a word `break` closes the connection mid-stream.
"""

import http.server
import json
import os
import signal
import sys
import time

OPT_ML = "/opt/ml"


def train() -> int:
    with open(f"{OPT_ML}/input/config/hyperparameters.json") as f:
        hyperparameters = json.load(f)
    behaviour = hyperparameters.get("behaviour", "ok")
    print(f"byo train: behaviour={behaviour}", flush=True)
    if behaviour == "ok":
        data = os.path.join(OPT_ML, "input", "data")
        channels = {c: sorted(os.listdir(os.path.join(data, c))) for c in sorted(os.listdir(data))}
        with open(f"{OPT_ML}/model/model.json", "w") as f:
            json.dump({"hyperparameters": hyperparameters, "channels": channels}, f)
        os.makedirs(f"{OPT_ML}/model/sub", exist_ok=True)
        with open(f"{OPT_ML}/model/sub/weights.bin", "wb") as weights:
            weights.write(bytes(range(256)) * 4096)
        for i in range(3):
            print(f"line {i}", flush=True)
        return 0
    if behaviour == "fail":
        with open(f"{OPT_ML}/output/failure", "w") as f:
            f.write("ClientError: the byo container refused its input")
        print("failing", file=sys.stderr, flush=True)
        return 1
    if behaviour in ("sleep", "stubborn"):
        if behaviour == "sleep":

            def on_term(signum: int, frame: object) -> None:
                print("terminated", flush=True)
                sys.exit(0)

            signal.signal(signal.SIGTERM, on_term)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("sleeping", flush=True)
        while True:
            time.sleep(0.1)
    if behaviour == "network":
        print("interfaces: " + ",".join(sorted(os.listdir("/sys/class/net"))), flush=True)
        return 0
    if behaviour == "env":
        for name, value in sorted(os.environ.items()):
            print(f"env {name}={value}", flush=True)
        return 0
    if behaviour == "rendezvous":
        return rendezvous()
    if behaviour == "pipe":
        import stat

        passes = []
        for epoch in (0, 1):
            path = f"{OPT_ML}/input/data/train_{epoch}"
            deadline = time.monotonic() + 60
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.05)
            fifo = stat.S_ISFIFO(os.stat(path).st_mode)
            with open(path, "rb") as pipe:
                passes.append({"fifo": fifo, "text": pipe.read().decode()})
        with open(f"{OPT_ML}/model/pipe.json", "w") as f:
            json.dump(passes, f)
        return 0
    if behaviour == "readonly":
        import errno

        outcome = {}
        for target in ("input/data/train/new.csv", "input/data/new.csv"):
            try:
                with open(f"{OPT_ML}/{target}", "w") as f:
                    f.write("x")
                outcome[target] = "written"
            except OSError as exc:
                outcome[target] = errno.errorcode.get(exc.errno or 0, str(exc))
        with open(f"{OPT_ML}/model/readonly.json", "w") as f:
            json.dump(outcome, f)
        return 0
    if behaviour == "one-fails":
        with open(f"{OPT_ML}/input/config/resourceconfig.json") as f:
            me = json.load(f)["current_host"]
        if me == hyperparameters["fail_host"]:
            with open(f"{OPT_ML}/output/failure", "w") as f:
                f.write(f"ClientError: {me} gave up")
            return 1
        print(f"{me} waits", flush=True)
        while True:  # until the platform stops it
            time.sleep(0.1)
    print(f"unknown behaviour {behaviour}", flush=True)
    return 2


def rendezvous() -> int:
    import socket

    with open(f"{OPT_ML}/input/config/resourceconfig.json") as f:
        resources = json.load(f)
    me, hosts = resources["current_host"], resources["hosts"]
    data = os.path.join(OPT_ML, "input", "data")
    mine = {c: sorted(os.listdir(os.path.join(data, c))) for c in sorted(os.listdir(data))}
    print(f"rendezvous: {me} of {hosts}", flush=True)
    if me == hosts[0]:
        joined = {me: mine}
        with socket.create_server(("0.0.0.0", 7777)) as server:
            server.settimeout(120)
            while len(joined) < len(hosts):
                connection, _ = server.accept()
                with connection, connection.makefile("r") as stream:
                    peer = json.loads(stream.readline())
                    joined[peer["host"]] = peer["channels"]
                    print(f"joined: {peer['host']}", flush=True)
        with open(f"{OPT_ML}/model/hosts.json", "w") as f:
            json.dump({"resourceconfig": resources, "joined": joined}, f)
    else:
        deadline = time.monotonic() + 120
        while True:  # the first host may not listen yet: retry, as the real guidance says
            try:
                connection = socket.create_connection((hosts[0], 7777), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with connection:
            connection.sendall((json.dumps({"host": me, "channels": mine}) + "\n").encode())
    with open(f"{OPT_ML}/model/{me}.txt", "w") as f:
        f.write(me)
    return 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(200 if self.path == "/ping" else 404, b"{}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/invocations-response-stream":
            self._stream(body)
            return
        if body == b"hang":
            while True:  # a model that never answers
                time.sleep(1)
        with open(f"{OPT_ML}/model/model.json", "rb") as f:
            model = json.load(f)
        answer = {
            "model": model,
            "echo": body.decode("utf-8", "replace"),
            "headers": {name.lower(): value for name, value in self.headers.items()},
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if attributes is not None:
            self.send_header("X-Amzn-SageMaker-Custom-Attributes", f"seen={attributes}")
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Accept") or "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if attributes is not None:
            self.send_header("X-Amzn-SageMaker-Custom-Attributes", f"seen={attributes}")
        self.end_headers()
        for word in body.split():
            if word == b"break":
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            chunk = word + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def serve() -> int:
    print("byo serve: listening on 8080", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(train() if sys.argv[1] == "train" else serve())
