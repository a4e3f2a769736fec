# A typical student lab 3 server, the pair-against-pair reference: recv the
# name, then read(1024) + sendall until the end of the file, close. No size
# header, no hash, one client at a time.
import os, socket, sys
root = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', 0))
s.listen(5)
print('port', s.getsockname()[1], flush=True)
while True:
    conn, addr = s.accept()
    name = conn.recv(1024).decode()
    with open(os.path.join(root, name), 'rb') as f:
        while True:
            block = f.read(1024)
            if not block:
                break
            conn.sendall(block)
    conn.close()
