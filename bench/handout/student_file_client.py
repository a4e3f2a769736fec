# A typical student lab 3 client, the pair-against-pair reference:
# client.py HOST PORT REMOTE LOCAL. Sends the name, then recv(1024) + write
# until the server closes.
import socket, sys
host, port, remote, local = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))
s.send(remote.encode())
with open(local, 'wb') as f:
    while True:
        block = s.recv(1024)
        if not block:
            break
        f.write(block)
s.close()
