# A careful lab 1 client: sendall, half-close, read until the server closes.
import sys
from socket import *
s = socket(AF_INET, SOCK_STREAM)
s.connect((sys.argv[1], int(sys.argv[2])))
sentence = input('Input lowercase sentence: ')
s.sendall(sentence.encode())
s.shutdown(SHUT_WR)
reply = b''
while True:
    data = s.recv(4096)
    if not data:
        break
    reply += data
print('From Server:', reply.decode())
s.close()
