"""Simplified Chinese for the gallery's UI text: ZH[english] = chinese (see demos/i18n.py).

Written for readers of Chinese, not word for word. Model and paper names (AlexNet, U-Net,
Grad-CAM, ...) stay as they are; figures are never part of a key (they come from results/).
"""

ZH: dict[str, str] = {
    # ---- the shell
    "Paper Demo Gallery": "论文演示馆",
    "Classic computer-vision papers you can *use*: your own image in, the paper's idea visible out, "
    "on a CPU in seconds. Each tab cites its paper and lists where it differs from it.":
        "可以亲手*用起来*的经典计算机视觉论文：放进你自己的图片，论文的思想就在眼前发生，"
        "在 CPU 上几秒钟即可。每个标签页都注明出处，并列出与原论文的不同之处。",
    "Read the paper": "阅读论文",
    # ---- tab titles (paper and model names stay in English)
    **{name: name for name in ("AlexNet", "Faster R-CNN", "Guided Anchoring", "U-Net", "Image Transformer",
                               "mixup", "Xception", "Grad-CAM")},
    "Gallery": "总览",
    "Deconvnet visualisation": "反卷积网络可视化",
    "Gatys style transfer": "Gatys 风格迁移",
    "Harmonic Networks": "谐波网络 (H-Net)",
    "Octave Convolution": "八度卷积 (OctConv)",
    "PCN face detection": "PCN 旋转人脸检测",
    "Recurrent STN": "循环空间变换网络",
    "Siamese similarity network": "孪生相似度网络",
    "Spatial Transformer Networks": "空间变换网络 (STN)",
    "Texture vs shape bias": "纹理与形状偏好",
    # ---- the front page
    "Seventeen classic computer-vision papers, each with its finding measured here at small scale "
    "beside the paper's. Pick a card to open its tab.":
        "十七篇经典计算机视觉论文，每篇的核心结论都在这里以小规模重新测量，并与原论文的数字并列。点击卡片打开对应的标签页。",
    "Seeing inside CNNs": "看清 CNN 的内部",
    "Efficient convolutions": "高效的卷积",
    "Detection and faces": "检测与人脸",
    "Geometry": "几何变换",
    "Learning from pairs and mixtures": "从成对样本与混合样本中学习",
    "Generation and style": "生成与风格",
    "Segmentation": "分割",
    "A deep CNN with ReLUs, dropout and two GPUs wins ImageNet by a wide margin.":
        "用 ReLU、dropout 和两块 GPU 训练的深层 CNN，以巨大优势赢得 ImageNet。",
    "Project a feature back to pixels to see what each unit responds to.":
        "把特征投影回像素空间，看每个神经元对什么有反应。",
    "Gradients of a class score weight the last conv maps: where the network looked.":
        "用类别得分的梯度给最后的卷积特征图加权：网络看的是哪里。",
    "ImageNet CNNs classify by texture, people by shape.": "ImageNet 上训练的 CNN 靠纹理分类，人靠形状。",
    "Separate space from channels: depthwise then pointwise convolutions.":
        "把空间与通道分开处理：先逐通道卷积，再逐点卷积。",
    "Store smooth features at half resolution and save multiply-adds.": "把平滑的特征存成半分辨率，省下乘加运算。",
    "A network proposes the regions it then classifies.": "由网络自己提出候选区域，再对其分类。",
    "Predict where anchors should be, and their shapes, instead of tiling them.":
        "预测锚框该放在哪里、是什么形状，而不是铺满整张图。",
    "Three small networks turn faces upright step by step, in real time.":
        "三个小网络一步步把人脸转正，实时完成。",
    "A layer that learns to crop, turn and zoom its own input.": "一个学会自己裁剪、旋转、缩放输入的网络层。",
    "A recurrent attention that reads digits one glimpse at a time.": "循环注意力，一次一瞥地读出数字。",
    "Circular-harmonic filters make rotation equivariance built in.": "圆谐滤波器让旋转等变性成为网络的内在属性。",
    "Learn a distance so that pairs of the same person come out close.": "学一个距离，让同一个人的两张照片彼此靠近。",
    "Train on blends of examples and their labels.": "用样本与标签的线性混合来训练。",
    "Content from deep features, style from their correlations.": "内容来自深层特征，风格来自特征之间的相关性。",
    "Self-attention over local neighbourhoods generates images pixel by pixel.":
        "在局部邻域上做自注意力，逐像素生成图像。",
    "A contracting and expanding network with skips segments cells from few images.":
        "带跳跃连接的收缩—扩张网络，用很少的图像学会分割细胞。",
    "No measured result yet.": "尚无测量结果。",
    "ours": "我们",
    "paper": "论文",
    "vs": "对比",
}
