# A careful lab 1 server: a thread per client, reads until the client half-closes, sendall.
import sys
import threading
from socket import *

def serve(conn):
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            conn.sendall(data.upper())
    except OSError:
        pass
    finally:
        conn.close()

server = socket(AF_INET, SOCK_STREAM)
server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
server.bind(('', int(sys.argv[1])))
server.listen(128)
print('The server is ready to receive', flush=True)
while True:
    conn, addr = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
