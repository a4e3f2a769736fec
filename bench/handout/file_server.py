# A plain blocking lab 3 server speaking this project's protocol, for
# comparison: one client at a time, read 1024 bytes, send them, repeat.
import hashlib, os, socket, sys
root = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', 0))
s.listen(5)
print('port', s.getsockname()[1], flush=True)
while True:
    conn, addr = s.accept()
    f = conn.makefile('rb')
    name = f.readline().decode().strip()
    offset = int(f.readline())
    path = os.path.join(root, name)
    size = os.path.getsize(path)
    h = hashlib.sha256()
    conn.sendall(b'OK %d\n' % size)
    with open(path, 'rb') as src:
        while True:
            block = src.read(1024)
            if not block:
                break
            h.update(block)
            conn.sendall(block)
    conn.sendall(h.hexdigest().encode() + b'\n')
    f.close()
    conn.close()
